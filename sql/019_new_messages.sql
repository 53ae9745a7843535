-- 019_new_messages.sql: several new messages in one folder at once.
--
-- mtad delivers a burst of mail for one mailbox in one transaction
-- (storaged IMPORT_MIME with PARTS). xc_new_messages does for all of them
-- what xc_new_message (sql/012) does for one, set by set: the mailbox row
-- once (CNs first .. first + k - 1, in the order given, the quota checked
-- on the sum), the message rows, the change log and the folder's counts,
-- each in one statement. Returns the first CN.
CREATE FUNCTION xc_new_messages(p_mailbox bigint, p_mids bigint[],
                                p_fid bigint, p_fai boolean,
                                p_xid_guid bytea, p_classes text[],
                                p_subjects text[], p_whens float8[],
                                p_sizes bigint[], p_reads boolean[],
                                p_creator bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    k integer := cardinality(p_mids);
    v_size bigint;
    v_unread integer;
    v_cn bigint;
    v_used bigint;
    v_quota bigint;
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
    INSERT INTO messages (mailbox_id, mid, fid, is_fai, cn, change_key, pcl,
                          message_class, subject, delivery_time, message_size,
                          is_read, creator_id)
    SELECT p_mailbox, u.mid, p_fid, p_fai, v_cn + u.i - 1, x.ck,
           '\x16'::bytea || x.ck, coalesce(u.cls, 'IPM.Note'),
           coalesce(u.subj, ''), to_timestamp(u.wh), u.sz, u.rd, p_creator
    FROM unnest(p_mids, p_classes, p_subjects, p_whens, p_sizes, p_reads)
         WITH ORDINALITY AS u(mid, cls, subj, wh, sz, rd, i),
         LATERAL (SELECT p_xid_guid ||
                         substring(int8send(v_cn + u.i - 1) FROM 3) AS ck) x;
    INSERT INTO changes (mailbox_id, cn, kind, fid, mid, is_fai)
    SELECT p_mailbox, v_cn + u.i - 1, 'create', p_fid, u.mid, p_fai
    FROM unnest(p_mids) WITH ORDINALITY AS u(mid, i);
    PERFORM xc_folder_count(p_mailbox, p_fid, p_fai, k, v_unread);
    RETURN v_cn;
END $$;
