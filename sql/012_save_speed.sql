-- 012_save_speed.sql: a new message takes its change number last, and the
-- functions every save runs keep their plans.
--
-- Every change took the mailbox row first (its next CN) and held that lock
-- to its commit, so saves into one mailbox ran one after another however
-- many clients sent them: a save's whole pipeline and two network round
-- trips under the lock. Now a new message's id comes from a range that
-- storaged takes ahead (next_gc, 64 at a time, in a transaction of its
-- own), its content rows are written first, and xc_new_message below
-- takes the CN, checks the quota, writes the message row, its change log
-- entry and the folder's counts in one statement sent in the same
-- pipeline as the COMMIT: the lock is held for that statement and the
-- commit, and CN order is still commit order.
--
-- The content rows reference their message row, written after them: those
-- foreign keys are checked at commit.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.conrelid::regclass AS tab, c.conname
             FROM pg_constraint c
             WHERE c.contype = 'f' AND c.confrelid = 'messages'::regclass
               AND c.conrelid IN ('message_props'::regclass,
                                  'recipients'::regclass,
                                  'attachments'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER CONSTRAINT %I '
                       'DEFERRABLE INITIALLY DEFERRED', r.tab, r.conname);
    END LOOP;
END $$;

-- Ids handed out in ranges (storaged's cache): the first of p_n.
CREATE FUNCTION xc_take_ids(p_mailbox bigint, p_n integer)
RETURNS TABLE (first_gc bigint, guid bytea) LANGUAGE sql AS $$
    UPDATE mailboxes SET next_gc = next_gc + p_n WHERE id = p_mailbox
    RETURNING next_gc - p_n, uuid_send(replica_guid);
$$;

-- The message row of a new message whose content rows are written: takes
-- the mailbox's next CN (the lock is held to the commit), checks the quota
-- (SQLSTATE XCQ01 when it is exceeded), writes the row with its change key
-- (p_xid_guid: the replica GUID in [MS-OXCDATA] 2.5.1 byte order, then the
-- CN's 6 bytes, [MS-OXCFXICS] 2.2.2.2) and PCL (that one XID), logs the
-- change and counts the message in its folder. Returns the CN. A folder
-- that is gone fails the row's foreign key (23503).
CREATE FUNCTION xc_new_message(p_mailbox bigint, p_mid bigint, p_fid bigint,
                               p_fai boolean, p_xid_guid bytea,
                               p_class text, p_subject text, p_when float8,
                               p_size bigint, p_read boolean,
                               p_creator bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_cn bigint;
    v_used bigint;
    v_quota bigint;
    v_ck bytea;
BEGIN
    UPDATE mailboxes SET next_cn = next_cn + 1,
                         used_bytes = used_bytes + p_size
    WHERE id = p_mailbox
    RETURNING next_cn - 1, used_bytes, quota_bytes
    INTO v_cn, v_used, v_quota;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such mailbox' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF p_size > 0 AND v_quota IS NOT NULL AND v_used > v_quota THEN
        RAISE EXCEPTION 'mailbox quota exceeded' USING ERRCODE = 'XCQ01';
    END IF;
    v_ck := p_xid_guid || substring(int8send(v_cn) FROM 3);
    INSERT INTO messages (mailbox_id, mid, fid, is_fai, cn, change_key, pcl,
                          message_class, subject, delivery_time, message_size,
                          is_read, creator_id)
    VALUES (p_mailbox, p_mid, p_fid, p_fai, v_cn, v_ck,
            '\x16'::bytea || v_ck, coalesce(p_class, 'IPM.Note'),
            coalesce(p_subject, ''), to_timestamp(p_when), p_size, p_read,
            p_creator);
    INSERT INTO changes (mailbox_id, cn, kind, fid, mid, is_fai)
    VALUES (p_mailbox, v_cn, 'create', p_fid, p_mid, p_fai);
    PERFORM xc_folder_count(p_mailbox, p_fid, p_fai, 1,
                            CASE WHEN p_read THEN 0 ELSE 1 END);
    RETURN v_cn;
END $$;

-- Functions in LANGUAGE sql are parsed and planned again on every call
-- (they are not inlined where they write or aggregate); PL/pgSQL keeps
-- its plans per session. The same bodies as in 002, 003 and 004.
CREATE OR REPLACE FUNCTION xc_folder_count(p_mailbox bigint, p_fid bigint,
                                           p_fai boolean, p_content integer,
                                           p_unread integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE folders SET
        content_count = content_count + CASE WHEN p_fai THEN 0 ELSE p_content END,
        unread_count = unread_count + CASE WHEN p_fai THEN 0 ELSE p_unread END,
        assoc_count = assoc_count + CASE WHEN p_fai THEN p_content ELSE 0 END
    WHERE mailbox_id = p_mailbox AND fid = p_fid;
END $$;

CREATE OR REPLACE FUNCTION xc_blob_put(p_hash bytea, p_data bytea)
RETURNS bytea LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO blobs (hash, size, data) VALUES (p_hash, length(p_data), p_data)
    ON CONFLICT (hash) DO UPDATE SET refcount = blobs.refcount + 1;
    RETURN p_hash;
END $$;

CREATE OR REPLACE FUNCTION xc_message_fts(p_mailbox bigint, p_mid bigint)
RETURNS tsvector LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
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
    ) texts);
END $$;
