-- Internet-format copies of messages ([MS-OXCMAIL]).
--
-- received  the bytes a message came in as (SMTP delivery, IMAP APPEND,
--           an import): kept exactly, so IMAP serves the same bytes for a
--           UID for ever; dropped only when a change touches what the
--           MIME says (storaged/sd_mime.c lists which properties do).
-- generated MIME written from the content of a message created through
--           MAPI, EWS or ActiveSync: made once per change, valid while
--           cn equals the message's cn.
-- The bytes are a blob (single-instance, reference counted like every
-- large value); copies of a message share it.
CREATE TABLE message_mime (
    mailbox_id bigint NOT NULL,
    mid        bigint NOT NULL,
    cn         bigint NOT NULL,
    received   boolean NOT NULL,
    blob       bytea NOT NULL REFERENCES blobs (hash),
    PRIMARY KEY (mailbox_id, mid),
    FOREIGN KEY (mailbox_id, mid) REFERENCES messages ON DELETE CASCADE
);
CREATE TRIGGER message_mime_unref AFTER DELETE ON message_mime
    FOR EACH ROW EXECUTE FUNCTION xc_blob_unref();
