-- 016_search_folders.sql: search folders ([MS-OXCFOLD] 2.2.1.4, 2.2.1.5,
-- [MS-OXOSRCH]).
--
-- A search folder (folder_type 2) holds no messages: its contents table
-- is the messages of its scope (some folders, with their subfolders when
-- the search is recursive) that match its restriction, found when the
-- table is read, so it is always current, as Exchange keeps its search
-- folders. The restriction is kept in its wire form ([MS-OXCDATA] 2.12)
-- and compiled with the table's own.
CREATE TABLE search_criteria (
    mailbox_id  bigint NOT NULL,
    fid         bigint NOT NULL,
    restriction bytea,              -- NULL: every message of the scope
    scope       bigint[] NOT NULL,  -- folders searched (global counters)
    recursive   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (mailbox_id, fid),
    FOREIGN KEY (mailbox_id, fid) REFERENCES folders ON DELETE CASCADE
);

-- The folders a search folder searches now: its scope, with all their
-- subfolders when recursive; never a search folder.
CREATE FUNCTION xc_search_scope(p_mailbox bigint, p_fid bigint)
RETURNS bigint[] LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_scope bigint[];
    v_rec boolean;
    r bigint[];
BEGIN
    SELECT scope, recursive INTO v_scope, v_rec FROM search_criteria
    WHERE mailbox_id = p_mailbox AND fid = p_fid;
    IF NOT FOUND THEN
        RETURN '{}';
    END IF;
    WITH RECURSIVE t AS (
        SELECT f.fid FROM folders f
        WHERE f.mailbox_id = p_mailbox AND f.fid = ANY (v_scope)
        UNION
        SELECT f.fid FROM folders f JOIN t ON f.parent_fid = t.fid
        WHERE v_rec AND f.mailbox_id = p_mailbox
    )
    SELECT coalesce(array_agg(t.fid), '{}') INTO r FROM t
    JOIN folders f ON f.mailbox_id = p_mailbox AND f.fid = t.fid
    WHERE f.folder_type <> 2;
    RETURN r;
END $$;

-- A message lives in a real folder, never in a search folder.
CREATE FUNCTION xc_not_in_search_folder() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM folders WHERE mailbox_id = NEW.mailbox_id
               AND fid = NEW.fid AND folder_type = 2) THEN
        RAISE EXCEPTION 'a search folder holds no messages of its own'
            USING ERRCODE = 'XCS01';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_not_in_search_folder
    BEFORE INSERT OR UPDATE OF fid ON messages
    FOR EACH ROW EXECUTE FUNCTION xc_not_in_search_folder();
