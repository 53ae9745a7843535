-- 005_store_ops.sql: what folder and message moves, copies and deletes,
-- property-level changes and quotas need ([MS-OXCFOLD], [MS-OXCMSG],
-- [MS-OXCPRPT]).
--
-- Deleted folders leave a tombstone, as deleted messages do (002): a sync
-- client learns of a deleted folder from its "delete" row in the change log
-- (mid NULL) and the tombstone that outlives it for tombstone_days.
--
-- mailboxes.used_bytes is the sum of message_size over the mailbox's
-- messages, kept by storaged in the transaction of every change; it is
-- recounted here once because the writers before this migration left it 0.
-- Quotas, after Exchange's ProhibitSendReceiveQuota and ProhibitSendQuota:
--   quota_bytes       storaged refuses (XC_E_NOQUOTA) any write that would
--                     take used_bytes past it: delivery, saves, copies.
--                     Deletes and moves are always allowed.
--   send_quota_bytes  storaged does not enforce it; mtad reads it (op QUOTA)
--                     and refuses submission while used_bytes is past it.
-- NULL means no quota.

CREATE TABLE folder_tombstones (
    mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    fid        bigint NOT NULL,
    parent_fid bigint,
    cn         bigint NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, fid)
);

ALTER TABLE mailboxes
    ADD COLUMN send_quota_bytes bigint CHECK (send_quota_bytes >= 0);

UPDATE mailboxes m SET used_bytes =
    (SELECT coalesce(sum(message_size), 0) FROM messages x WHERE x.mailbox_id = m.id);

ALTER TABLE mailboxes
    ADD CONSTRAINT mailboxes_used_bytes_check CHECK (used_bytes >= 0),
    ADD CONSTRAINT mailboxes_quota_bytes_check CHECK (quota_bytes >= 0);

-- Admin functions (tools/xcadmin quota / usage). A NULL quota removes it.
CREATE FUNCTION xc_set_quota(p_address text, p_bytes bigint)
RETURNS void LANGUAGE sql AS $$
    UPDATE mailboxes SET quota_bytes = p_bytes
    WHERE user_id = xc_user_id(p_address);
$$;

CREATE FUNCTION xc_set_send_quota(p_address text, p_bytes bigint)
RETURNS void LANGUAGE sql AS $$
    UPDATE mailboxes SET send_quota_bytes = p_bytes
    WHERE user_id = xc_user_id(p_address);
$$;

CREATE FUNCTION xc_usage(p_address text,
                         OUT used_bytes bigint, OUT quota_bytes bigint,
                         OUT send_quota_bytes bigint, OUT messages bigint)
LANGUAGE sql STABLE AS $$
    SELECT m.used_bytes, m.quota_bytes, m.send_quota_bytes,
           (SELECT count(*) FROM messages x WHERE x.mailbox_id = m.id)
    FROM mailboxes m WHERE m.user_id = xc_user_id(p_address);
$$;
