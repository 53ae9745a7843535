-- 003_folder_counts.sql: per-folder message counts ([MS-OXCFOLD]
-- PidTagContentCount, PidTagContentUnreadCount, PidTagAssociatedContentCount),
-- kept by storaged in the transaction of each change, so tables and folder
-- lists never count rows.

ALTER TABLE folders
    ADD COLUMN content_count bigint NOT NULL DEFAULT 0 CHECK (content_count >= 0),
    ADD COLUMN unread_count bigint NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    ADD COLUMN assoc_count bigint NOT NULL DEFAULT 0 CHECK (assoc_count >= 0);

UPDATE folders f SET
    content_count = (SELECT count(*) FROM messages m
                     WHERE m.mailbox_id = f.mailbox_id AND m.fid = f.fid AND NOT m.is_fai),
    unread_count = (SELECT count(*) FROM messages m
                    WHERE m.mailbox_id = f.mailbox_id AND m.fid = f.fid
                      AND NOT m.is_fai AND NOT m.is_read),
    assoc_count = (SELECT count(*) FROM messages m
                   WHERE m.mailbox_id = f.mailbox_id AND m.fid = f.fid AND m.is_fai);

-- Add (or subtract) to a folder's counts.
CREATE FUNCTION xc_folder_count(p_mailbox bigint, p_fid bigint, p_fai boolean,
                                p_content integer, p_unread integer)
RETURNS void LANGUAGE sql AS $$
    UPDATE folders SET
        content_count = content_count + CASE WHEN p_fai THEN 0 ELSE p_content END,
        unread_count = unread_count + CASE WHEN p_fai THEN 0 ELSE p_unread END,
        assoc_count = assoc_count + CASE WHEN p_fai THEN p_content ELSE 0 END
    WHERE mailbox_id = p_mailbox AND fid = p_fid;
$$;
