-- 009_expiry.sql: forgetting old changes.
--
-- Tombstones (messages and folders) and change-log rows are kept for
-- settings.tombstone_days (30), long enough for sync clients that come back
-- after a holiday; then storaged's listener runs xc_expire every
-- expire_interval seconds (storaged.conf) and they go. A mailbox
-- remembers the highest change number it forgot (expired_cn): CHANGES
-- from before it is refused (XC_E_LIMIT), so a client that was away
-- longer starts over from the current contents instead of missing
-- deletions.
ALTER TABLE mailboxes ADD COLUMN expired_cn bigint NOT NULL DEFAULT 0;
CREATE INDEX changes_by_time ON changes (at);
CREATE INDEX tombstones_by_time ON tombstones (deleted_at);
CREATE INDEX folder_tombstones_by_time ON folder_tombstones (deleted_at);

-- Forget up to p_batch change-log rows and tombstones of each kind older
-- than tombstone_days; returns how many rows went. One storaged at a time
-- does it (an advisory lock); the others return 0.
CREATE FUNCTION xc_expire(p_batch integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    days integer := coalesce((SELECT value::integer FROM settings
                              WHERE key = 'tombstone_days'), 30);
    horizon timestamptz := now() - make_interval(days => days);
    total bigint := 0;
    k bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('xc_expire')) THEN
        RETURN 0;
    END IF;
    WITH old AS (
        SELECT mailbox_id, cn FROM changes WHERE at < horizon
        ORDER BY at LIMIT p_batch
    ), gone AS (
        DELETE FROM changes c USING old
        WHERE c.mailbox_id = old.mailbox_id AND c.cn = old.cn
        RETURNING c.mailbox_id, c.cn
    ), top AS (
        SELECT mailbox_id, max(cn) AS cn, count(*) AS n FROM gone
        GROUP BY mailbox_id
    ), upd AS (
        UPDATE mailboxes x SET expired_cn = greatest(x.expired_cn, top.cn)
        FROM top WHERE x.id = top.mailbox_id
    )
    SELECT coalesce(sum(n), 0) INTO k FROM top;
    total := total + k;
    DELETE FROM tombstones WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM tombstones WHERE deleted_at < horizon LIMIT p_batch));
    GET DIAGNOSTICS k = ROW_COUNT;
    total := total + k;
    DELETE FROM folder_tombstones WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM folder_tombstones WHERE deleted_at < horizon
        LIMIT p_batch));
    GET DIAGNOSTICS k = ROW_COUNT;
    RETURN total + k;
END $$;
