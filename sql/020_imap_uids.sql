-- 020_imap_uids.sql: IMAP unique identifiers ([MS-OXPROTO] 2.2.7; RFC 3501
-- 2.3.1.1, RFC 9051 2.3.1.1).
--
-- Every message in a folder has a UID that never changes while it stays
-- there, and a message that arrives later (saved, delivered, copied or
-- moved in: each is a new row) gets a larger one: folders.imap_uidnext
-- hands them out in the transaction that inserts the row, under the
-- folder's row lock, so they ascend in commit order. UIDVALIDITY is fixed
-- when the folder is made, from a sequence that began at the time this
-- migration ran and never gives a value twice, so a folder deleted and
-- made again under the same name (a new folder) gets another.
-- xc_new_messages takes its UIDs in the UPDATE of the folder's counts
-- it makes anyway; any other insert takes one in the trigger below
-- (sql/021 drops the single-message xc_new_message, no longer used).
DO $$
BEGIN
    EXECUTE format('CREATE SEQUENCE xc_imap_uidvalidity MINVALUE 1 '
                   'MAXVALUE 4294967295 START %s',
                   greatest(1, extract(epoch FROM now())::bigint));
END $$;
ALTER TABLE folders
    ADD COLUMN imap_uidvalidity bigint NOT NULL
        DEFAULT nextval('xc_imap_uidvalidity')
        CHECK (imap_uidvalidity BETWEEN 1 AND 4294967295),
    ADD COLUMN imap_uidnext bigint NOT NULL DEFAULT 1
        CHECK (imap_uidnext BETWEEN 1 AND 4294967296);

-- Messages already stored are numbered folder by folder in the order of
-- their ids, with a line of progress (INFO reaches psql whatever its
-- client_min_messages) every 100,000 messages on a large store.
ALTER TABLE messages ADD COLUMN imap_uid bigint;
DO $$
DECLARE
    f record;
    total bigint;
    done bigint := 0;
    shown bigint := 0;
    n bigint;
BEGIN
    SELECT count(*) INTO total FROM messages;
    FOR f IN SELECT mailbox_id, fid FROM folders ORDER BY mailbox_id, fid LOOP
        WITH r AS (
            SELECT mid, row_number() OVER (ORDER BY mid) AS k
            FROM messages WHERE mailbox_id = f.mailbox_id AND fid = f.fid)
        UPDATE messages m SET imap_uid = r.k
        FROM r WHERE m.mailbox_id = f.mailbox_id AND m.mid = r.mid;
        GET DIAGNOSTICS n = ROW_COUNT;
        UPDATE folders SET imap_uidnext = n + 1
        WHERE mailbox_id = f.mailbox_id AND fid = f.fid;
        done := done + n;
        IF done - shown >= 100000 THEN
            RAISE INFO 'IMAP UIDs: % of % messages numbered', done, total;
            shown := done;
        END IF;
    END LOOP;
    IF total >= 100000 THEN
        RAISE INFO 'IMAP UIDs: all % messages numbered', total;
    END IF;
END $$;
ALTER TABLE messages ALTER COLUMN imap_uid SET NOT NULL;
CREATE UNIQUE INDEX messages_imap_uid ON messages (mailbox_id, fid, imap_uid);

-- A row inserted without its UID takes the folder's next.
CREATE FUNCTION xc_imap_uid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE folders SET imap_uidnext = imap_uidnext + 1
    WHERE mailbox_id = NEW.mailbox_id AND fid = NEW.fid
    RETURNING imap_uidnext - 1 INTO NEW.imap_uid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such folder' USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_imap_uid BEFORE INSERT ON messages
    FOR EACH ROW WHEN (NEW.imap_uid IS NULL) EXECUTE FUNCTION xc_imap_uid();

-- The folder's counts and its next UIDs in one statement: k new messages,
-- unread of them unread; the first UID (NULL: no such folder).
CREATE FUNCTION xc_folder_add(p_mailbox bigint, p_fid bigint, p_fai boolean,
                              k integer, unread integer)
RETURNS bigint LANGUAGE sql AS $$
    UPDATE folders SET
        content_count = content_count + CASE WHEN p_fai THEN 0 ELSE k END,
        unread_count = unread_count + CASE WHEN p_fai THEN 0 ELSE unread END,
        assoc_count = assoc_count + CASE WHEN p_fai THEN k ELSE 0 END,
        imap_uidnext = imap_uidnext + k
    WHERE mailbox_id = p_mailbox AND fid = p_fid
    RETURNING imap_uidnext - k;
$$;

CREATE OR REPLACE FUNCTION xc_new_messages(p_mailbox bigint, p_mids bigint[],
                                           p_fid bigint, p_fai boolean,
                                           p_xid_guid bytea,
                                           p_classes text[],
                                           p_subjects text[],
                                           p_whens float8[],
                                           p_sizes bigint[],
                                           p_reads boolean[],
                                           p_creator bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    k integer := cardinality(p_mids);
    v_size bigint;
    v_unread integer;
    v_cn bigint;
    v_used bigint;
    v_quota bigint;
    v_uid bigint;
BEGIN
    IF k IS NULL OR k = 0 OR cardinality(p_classes) <> k
       OR cardinality(p_subjects) <> k OR cardinality(p_whens) <> k
       OR cardinality(p_sizes) <> k OR cardinality(p_reads) <> k THEN
        RAISE EXCEPTION 'xc_new_messages: arrays of different lengths';
    END IF;
    SELECT sum(s), count(*) FILTER (WHERE NOT r)
    INTO v_size, v_unread
    FROM unnest(p_sizes, p_reads) AS u(s, r);
    UPDATE mailboxes SET next_cn = next_cn + k,
                         used_bytes = used_bytes + v_size
    WHERE id = p_mailbox
    RETURNING next_cn - k, used_bytes, quota_bytes
    INTO v_cn, v_used, v_quota;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such mailbox' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF v_size > 0 AND v_quota IS NOT NULL AND v_used > v_quota THEN
        RAISE EXCEPTION 'mailbox quota exceeded' USING ERRCODE = 'XCQ01';
    END IF;
    v_uid := xc_folder_add(p_mailbox, p_fid, p_fai, k, v_unread);
    IF v_uid IS NULL THEN
        RAISE EXCEPTION 'no such folder' USING ERRCODE = 'foreign_key_violation';
    END IF;
    INSERT INTO messages (mailbox_id, mid, fid, is_fai, cn, change_key, pcl,
                          message_class, subject, delivery_time, message_size,
                          is_read, creator_id, imap_uid)
    SELECT p_mailbox, u.mid, p_fid, p_fai, v_cn + u.i - 1, x.ck,
           '\x16'::bytea || x.ck, coalesce(u.cls, 'IPM.Note'),
           coalesce(u.subj, ''), to_timestamp(u.wh), u.sz, u.rd, p_creator,
           v_uid + u.i - 1
    FROM unnest(p_mids, p_classes, p_subjects, p_whens, p_sizes, p_reads)
         WITH ORDINALITY AS u(mid, cls, subj, wh, sz, rd, i),
         LATERAL (SELECT p_xid_guid ||
                         substring(int8send(v_cn + u.i - 1) FROM 3) AS ck) x;
    INSERT INTO changes (mailbox_id, cn, kind, fid, mid, is_fai)
    SELECT p_mailbox, v_cn + u.i - 1, 'create', p_fid, u.mid, p_fai
    FROM unnest(p_mids) WITH ORDINALITY AS u(mid, i);
    RETURN v_cn;
END $$;
