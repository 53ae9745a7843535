-- 002_store.sql: messages and their properties, recipients, attachments,
-- named properties, single-instance large values, and the change log.
--
-- Ids: folder and message ids are 48-bit global counters of the mailbox's
-- replica ([MS-OXCDATA] 2.2.1), storaged adds the replica id on the wire.
-- Change numbers (CN) are a separate per-mailbox counter taken under the
-- mailbox row's lock in the transaction that makes the change, so CN order
-- is commit order: "changes after CN x" never misses a change that
-- committed late with a smaller number.

ALTER TABLE mailboxes
    ADD COLUMN next_cn bigint NOT NULL DEFAULT 1 CHECK (next_cn < 281474976710656),
    ADD COLUMN quota_bytes bigint,          -- NULL: no quota
    ADD COLUMN used_bytes bigint NOT NULL DEFAULT 0;

-- Folders carry their change number, change key and predecessor change list
-- ([MS-OXCFXICS] 2.2.2.2, 2.2.2.3) like messages.
ALTER TABLE folders
    ADD COLUMN cn bigint NOT NULL DEFAULT 0,
    ADD COLUMN change_key bytea,
    ADD COLUMN pcl bytea;

-- Large property values, stored once per content (SHA-256).
CREATE TABLE blobs (
    hash     bytea PRIMARY KEY CHECK (length(hash) = 32),
    size     bigint NOT NULL,
    data     bytea NOT NULL,
    refcount bigint NOT NULL DEFAULT 1 CHECK (refcount >= 0)
);
-- uncompressed out-of-line storage, so substring() reads only the chunk
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE messages (
    mailbox_id     bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    mid            bigint NOT NULL,        -- global counter
    fid            bigint NOT NULL,        -- parent folder
    is_fai         boolean NOT NULL DEFAULT false,  -- folder associated info
    cn             bigint NOT NULL,
    change_key     bytea NOT NULL,
    pcl            bytea NOT NULL,
    -- hot columns for tables and sorts; the rest is in message_props
    message_class  text NOT NULL DEFAULT 'IPM.Note',
    subject        text NOT NULL DEFAULT '',
    delivery_time  timestamptz,
    message_size   bigint NOT NULL DEFAULT 0,
    is_read        boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    modified_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, mid),
    FOREIGN KEY (mailbox_id, fid) REFERENCES folders (mailbox_id, fid)
);
CREATE INDEX messages_by_delivery ON messages
    (mailbox_id, fid, is_fai, delivery_time DESC NULLS LAST, mid DESC);

-- One row per property. The value sits in the column of its type:
-- ival  PT_SHORT, PT_LONG, PT_BOOLEAN, PT_ERROR, PT_I8, PT_CURRENCY,
--       PT_SYSTIME (FILETIME)
-- fval  PT_FLOAT, PT_DOUBLE, PT_APPTIME
-- tval  PT_STRING8, PT_UNICODE (as UTF-8)
-- bval  PT_BINARY, PT_CLSID, PT_SVREID, and every multi-valued type (in
--       the wire encoding: count, then values)
-- blob  any value of more than 4 KiB, instead of tval/bval
CREATE TABLE message_props (
    mailbox_id bigint NOT NULL,
    mid        bigint NOT NULL,
    tag        integer NOT NULL,
    ival bigint, fval double precision, tval text, bval bytea,
    blob bytea REFERENCES blobs (hash),
    PRIMARY KEY (mailbox_id, mid, tag),
    FOREIGN KEY (mailbox_id, mid) REFERENCES messages ON DELETE CASCADE
);

CREATE TABLE recipients (
    mailbox_id bigint NOT NULL,
    mid        bigint NOT NULL,
    row_id     integer NOT NULL,
    tag        integer NOT NULL,
    ival bigint, fval double precision, tval text, bval bytea,
    blob bytea REFERENCES blobs (hash),
    PRIMARY KEY (mailbox_id, mid, row_id, tag),
    FOREIGN KEY (mailbox_id, mid) REFERENCES messages ON DELETE CASCADE
);

CREATE TABLE attachments (
    mailbox_id bigint NOT NULL,
    mid        bigint NOT NULL,
    attach_num integer NOT NULL,
    tag        integer NOT NULL,
    ival bigint, fval double precision, tval text, bval bytea,
    blob bytea REFERENCES blobs (hash),
    PRIMARY KEY (mailbox_id, mid, attach_num, tag),
    FOREIGN KEY (mailbox_id, mid) REFERENCES messages ON DELETE CASCADE
);

CREATE TABLE folder_props (
    mailbox_id bigint NOT NULL,
    fid        bigint NOT NULL,
    tag        integer NOT NULL,
    ival bigint, fval double precision, tval text, bval bytea,
    blob bytea REFERENCES blobs (hash),
    PRIMARY KEY (mailbox_id, fid, tag),
    FOREIGN KEY (mailbox_id, fid) REFERENCES folders ON DELETE CASCADE
);

-- Named properties ([MS-OXCPRPT] 2.2.1.5, [MS-OXPROPS] 1.3.2): per mailbox,
-- PropertySet GUID + LID or name -> a property id from 0x8000 to 0xFFFE.
CREATE TABLE named_props (
    mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    prop_id    integer NOT NULL CHECK (prop_id BETWEEN 32768 AND 65534),
    guid       uuid NOT NULL,
    lid        bigint CHECK (lid BETWEEN 0 AND 4294967295),
    name       text CHECK (length(name) BETWEEN 1 AND 255),
    PRIMARY KEY (mailbox_id, prop_id),
    CHECK ((lid IS NULL) <> (name IS NULL))
);
CREATE UNIQUE INDEX named_props_lid ON named_props (mailbox_id, guid, lid) WHERE lid IS NOT NULL;
CREATE UNIQUE INDEX named_props_name ON named_props (mailbox_id, guid, name) WHERE name IS NOT NULL;

-- The change log: every change to a folder or message, in CN order. What
-- ICS, EWS Sync*, ActiveSync, IMAP CONDSTORE/QRESYNC and notifications read.
CREATE TABLE changes (
    mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    cn         bigint NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('create', 'modify', 'delete', 'move', 'read')),
    fid        bigint NOT NULL,          -- the folder (a message's parent)
    mid        bigint,                   -- NULL for folder changes
    is_fai     boolean NOT NULL DEFAULT false,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, cn)
);
CREATE INDEX changes_by_folder ON changes (mailbox_id, fid, cn);

-- Deleted messages keep a tombstone (kept for tombstone_days) so that sync
-- clients learn of deletions.
CREATE TABLE tombstones (
    mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    mid        bigint NOT NULL,
    fid        bigint NOT NULL,
    cn         bigint NOT NULL,
    is_fai     boolean NOT NULL DEFAULT false,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, mid)
);
INSERT INTO settings VALUES ('tombstone_days', '30');

-- Take the next change number of a mailbox. The row lock is held until the
-- calling transaction ends, which orders concurrent writers.
CREATE FUNCTION xc_next_cn(p_mailbox bigint) RETURNS bigint
LANGUAGE sql AS $$
    UPDATE mailboxes SET next_cn = next_cn + 1 WHERE id = p_mailbox
    RETURNING next_cn - 1;
$$;

-- Blob reference counting: take/drop one reference.
CREATE FUNCTION xc_blob_put(p_hash bytea, p_data bytea) RETURNS bytea
LANGUAGE sql AS $$
    INSERT INTO blobs (hash, size, data) VALUES (p_hash, length(p_data), p_data)
    ON CONFLICT (hash) DO UPDATE SET refcount = blobs.refcount + 1
    RETURNING hash;
$$;

CREATE FUNCTION xc_blob_unref() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.blob IS NOT NULL THEN
        UPDATE blobs SET refcount = refcount - 1 WHERE hash = OLD.blob;
        DELETE FROM blobs WHERE hash = OLD.blob AND refcount = 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER message_props_unref AFTER DELETE ON message_props
    FOR EACH ROW EXECUTE FUNCTION xc_blob_unref();
CREATE TRIGGER recipients_unref AFTER DELETE ON recipients
    FOR EACH ROW EXECUTE FUNCTION xc_blob_unref();
CREATE TRIGGER attachments_unref AFTER DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION xc_blob_unref();
CREATE TRIGGER folder_props_unref AFTER DELETE ON folder_props
    FOR EACH ROW EXECUTE FUNCTION xc_blob_unref();

-- New mail and every other change are announced to all storaged
-- processes (notifications, [MS-OXCNOTIF]): payload "mailbox:cn".
CREATE FUNCTION xc_change_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('xc_change', NEW.mailbox_id || ':' || NEW.cn);
    RETURN NULL;
END $$;
CREATE TRIGGER changes_notify AFTER INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION xc_change_notify();
