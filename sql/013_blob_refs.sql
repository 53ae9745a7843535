-- 013_blob_refs.sql: single-instance values without lock-order trouble,
-- and unreferenced values removed in the background.
--
-- A new message's save takes the mailbox row last (012), but it took a
-- row lock on every large value it stored (xc_blob_put's upsert) before
-- that, while deletes hold the mailbox row and then drop references to
-- the same values: two savers and a deleter of one 6 KB value deadlocked
-- within seconds (test_store). Now a new message only holds its values
-- with FOR KEY SHARE (xc_blob_hold: what its rows' foreign keys take
-- anyway, and compatible with other transactions changing the count) and
-- adds its references after the mailbox row, like every other writer.
-- Dropping the last reference no longer deletes the row (which conflicts
-- with those holds); xc_blob_sweep does, in storaged's expiry round.
--
-- Deleting a value checks every foreign key that points at it, and none
-- of those columns had an index: each deletion read whole tables.

CREATE INDEX message_props_blob ON message_props (blob) WHERE blob IS NOT NULL;
CREATE INDEX recipients_blob ON recipients (blob) WHERE blob IS NOT NULL;
CREATE INDEX attachments_blob ON attachments (blob) WHERE blob IS NOT NULL;
CREATE INDEX folder_props_blob ON folder_props (blob) WHERE blob IS NOT NULL;
CREATE INDEX message_mime_blob ON message_mime (blob);
CREATE INDEX blobs_unreferenced ON blobs (hash) WHERE refcount = 0;

CREATE OR REPLACE FUNCTION xc_blob_unref() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.blob IS NOT NULL THEN
        UPDATE blobs SET refcount = refcount - 1 WHERE hash = OLD.blob;
    END IF;
    RETURN NULL;
END $$;

-- Make sure the value is stored and keep it (FOR KEY SHARE) until the
-- transaction ends, without a reference yet: xc_blob_ref adds that once
-- the mailbox row is held. A new value starts with no references.
CREATE FUNCTION xc_blob_hold(p_hash bytea, p_data bytea) RETURNS bytea
LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        PERFORM 1 FROM blobs WHERE hash = p_hash FOR KEY SHARE;
        IF FOUND THEN
            RETURN p_hash;
        END IF;
        INSERT INTO blobs (hash, size, data, refcount)
        VALUES (p_hash, length(p_data), p_data, 0)
        ON CONFLICT (hash) DO NOTHING;
        IF FOUND THEN
            RETURN p_hash;
        END IF;
        -- inserted meanwhile by another transaction: hold that one
    END LOOP;
END $$;

CREATE FUNCTION xc_blob_ref(p_hash bytea, p_n integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE blobs SET refcount = refcount + p_n WHERE hash = p_hash;
END $$;

-- Delete up to p_batch values nobody references (none held: SKIP LOCKED
-- passes over those a save is about to reference). Returns how many.
CREATE FUNCTION xc_blob_sweep(p_batch integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM blobs WHERE hash = ANY (ARRAY(
        SELECT hash FROM blobs WHERE refcount = 0
        LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
