-- 004_search.sql: indexes for restrictions (storaged/sd_query.c).
--
-- Substring matches on the subject (content restrictions with
-- FL_SUBSTRING / FL_PREFIX, EWS Contains, IMAP SEARCH SUBJECT) use a
-- trigram index (pg_trgm, shipped with PostgreSQL and trusted, so the
-- database owner may create it); LIKE and ILIKE both use it.
--
-- Full-text search (a content restriction on PR_SEARCH_ALL_INDEXED_PROPS:
-- EWS QueryString, IMAP SEARCH TEXT, ActiveSync Search) uses a tsvector
-- per message over the subject, the body, the sender's and recipients'
-- names and addresses and attachment names, kept in message_search with a
-- GIN index. It is computed when the transaction that saved the message
-- commits (a deferred trigger), so it always matches the committed
-- content. Each text is indexed up to its first 256 KiB (a tsvector holds
-- at most 1 MB).

CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- GIN indexes that lead with the mailbox (btree_gin, also trusted): a
-- word common in other mailboxes costs nothing in this one
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE INDEX messages_subject_trgm ON messages
    USING gin (mailbox_id, subject gin_trgm_ops);

CREATE TABLE message_search (
    mailbox_id bigint NOT NULL,
    mid        bigint NOT NULL,
    fts        tsvector NOT NULL,
    PRIMARY KEY (mailbox_id, mid),
    FOREIGN KEY (mailbox_id, mid) REFERENCES messages ON DELETE CASCADE
);
CREATE INDEX message_search_fts ON message_search USING gin (mailbox_id, fts);

-- The indexed words of one message. Property ids ([MS-OXPROPS]):
-- message: 0x0037 subject, 0x1000 body, 0x0042/0x0065/0x5D02 sent
-- representing name/address/SMTP address, 0x0C1A/0x0C1F/0x5D01 sender;
-- recipients: 0x3001 display name, 0x3003 address, 0x39FE SMTP address;
-- attachments: 0x3001 display name, 0x3707 long file name. Only string
-- values (types 0x001E, 0x001F).
CREATE FUNCTION xc_message_fts(p_mailbox bigint, p_mid bigint)
RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT to_tsvector('simple', coalesce(string_agg(left(t, 262144), ' '), ''))
    FROM (
        SELECT coalesce(p.tval, convert_from(b.data, 'UTF8')) AS t
        FROM message_props p LEFT JOIN blobs b ON b.hash = p.blob
        WHERE p.mailbox_id = p_mailbox AND p.mid = p_mid
          AND (p.tag & 65535) IN (30, 31)
          AND ((p.tag >> 16) & 65535) IN (55, 4096, 66, 101, 23810, 3098, 3103, 23809)
        UNION ALL
        SELECT coalesce(p.tval, convert_from(b.data, 'UTF8'))
        FROM recipients p LEFT JOIN blobs b ON b.hash = p.blob
        WHERE p.mailbox_id = p_mailbox AND p.mid = p_mid
          AND (p.tag & 65535) IN (30, 31)
          AND ((p.tag >> 16) & 65535) IN (12289, 12291, 14846)
        UNION ALL
        SELECT coalesce(p.tval, convert_from(b.data, 'UTF8'))
        FROM attachments p LEFT JOIN blobs b ON b.hash = p.blob
        WHERE p.mailbox_id = p_mailbox AND p.mid = p_mid
          AND (p.tag & 65535) IN (30, 31)
          AND ((p.tag >> 16) & 65535) IN (12289, 14087)
    ) texts;
$$;

CREATE FUNCTION xc_index_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM messages WHERE mailbox_id = NEW.mailbox_id AND mid = NEW.mid) THEN
        INSERT INTO message_search (mailbox_id, mid, fts)
        VALUES (NEW.mailbox_id, NEW.mid, xc_message_fts(NEW.mailbox_id, NEW.mid))
        ON CONFLICT (mailbox_id, mid) DO UPDATE SET fts = EXCLUDED.fts;
    END IF;
    RETURN NULL;
END $$;

-- every save takes a new CN: index at commit, once the properties are in
CREATE CONSTRAINT TRIGGER messages_search AFTER INSERT OR UPDATE OF cn ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xc_index_message();

INSERT INTO message_search (mailbox_id, mid, fts)
SELECT mailbox_id, mid, xc_message_fts(mailbox_id, mid) FROM messages;

-- A search string -> a query: every word, as a word prefix. NULL when
-- the string has no words (matches nothing).
CREATE FUNCTION xc_fts_query(q text) RETURNS tsquery LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN count(*) = 0 THEN NULL ELSE
        to_tsquery('simple', string_agg(
            '''' || replace(replace(t.lexeme, '\', '\\'), '''', '''''') || ''':*',
            ' & '))
    END
    FROM unnest(to_tsvector('simple', q)) t;
$$;
