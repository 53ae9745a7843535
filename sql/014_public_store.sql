-- 014_public_store.sql: the public folder store.
--
-- One store of the organization that is nobody's mailbox ([MS-OXCSTOR]
-- 2.2.1.1: a public folders logon; [MS-OXPROTO] 2.2.1): a mailboxes row
-- of kind 'public' with no user, its own replica GUID, change numbers and
-- named-property map, and its own tree of special folders, those a
-- public folders logon names: the root, IPM_SUBTREE (the folders users
-- see), NON_IPM_SUBTREE with EFORMS REGISTRY, SCHEDULE+ FREE BUSY (where
-- Outlook publishes free/busy) and OFFLINE ADDRESS BOOK.
--
-- Everyone reaches it through folder permissions ([MS-OXCPERM]): the
-- Default rows below, and whatever its administrators grant. Its
-- administrators (public_admins, set with `xcadmin public-admin`) have
-- every right in it, as an owner has in a mailbox: they create the
-- top-level folders and give rights on them.

ALTER TABLE special_folders ADD COLUMN store text NOT NULL DEFAULT 'private'
    CHECK (store IN ('private', 'public'));
INSERT INTO special_folders (id, name, parent, container_class, folder_type, store) VALUES
    (101, '',                     NULL, NULL, 0, 'public'),   -- the root
    (102, 'IPM_SUBTREE',           101, NULL, 1, 'public'),
    (103, 'NON_IPM_SUBTREE',       101, NULL, 1, 'public'),
    (104, 'EFORMS REGISTRY',       103, NULL, 1, 'public'),
    (105, 'SCHEDULE+ FREE BUSY',   103, NULL, 1, 'public'),
    (106, 'OFFLINE ADDRESS BOOK',  103, NULL, 1, 'public');

-- a root has no parent: the private root (1) or the public one (101)
DO $$
DECLARE
    c text;
BEGIN
    SELECT conname INTO c FROM pg_constraint
    WHERE conrelid = 'folders'::regclass AND contype = 'c'
      AND pg_get_constraintdef(oid) LIKE '%parent_fid IS NULL%';
    EXECUTE format('ALTER TABLE folders DROP CONSTRAINT %I', c);
END $$;
ALTER TABLE folders ADD CONSTRAINT folders_root_check
    CHECK ((parent_fid IS NULL) = coalesce(special IN (1, 101), false));

-- The special folders of the store's kind, parents first.
CREATE OR REPLACE FUNCTION xc_create_special_folders(p_mailbox bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sf record;
    first_gc bigint;
    v_store text;
    base integer;
    n integer;
BEGIN
    SELECT kind INTO v_store FROM mailboxes WHERE id = p_mailbox;
    SELECT count(*), min(id) INTO n, base FROM special_folders
    WHERE store = v_store;
    first_gc := xc_alloc_gc(p_mailbox, n);
    FOR sf IN
        WITH RECURSIVE tree AS (
            SELECT s.*, 0 AS depth FROM special_folders s
            WHERE parent IS NULL AND store = v_store
            UNION ALL
            SELECT s.*, t.depth + 1 FROM special_folders s JOIN tree t ON s.parent = t.id
        ) SELECT * FROM tree ORDER BY depth, id
    LOOP
        INSERT INTO folders (mailbox_id, fid, parent_fid, display_name,
                             container_class, folder_type, special)
        VALUES (p_mailbox, first_gc + sf.id - base,
                CASE WHEN sf.parent IS NULL THEN NULL
                     ELSE first_gc + sf.parent - base END,
                sf.name, sf.container_class, sf.folder_type, sf.id);
    END LOOP;
END $$;

CREATE UNIQUE INDEX mailboxes_one_public ON mailboxes (kind) WHERE kind = 'public';

CREATE TABLE public_admins (
    user_id bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE
);

-- The store, with the Default rights ([MS-OXCPERM] 2.2.7) of its special
-- folders: everyone sees the tree and reads IPM_SUBTREE (its top-level
-- folders are the administrators' to create), the forms registry and
-- the offline address book, and publishes and reads free/busy (Author:
-- ReadAny, Create, EditOwned, DeleteOwned, FolderVisible).
DO $$
DECLARE
    pid bigint;
BEGIN
    INSERT INTO mailboxes (kind) VALUES ('public') RETURNING id INTO pid;
    PERFORM xc_create_special_folders(pid);
    INSERT INTO folder_permissions (mailbox_id, fid, member_id, rights)
    SELECT pid, f.fid, 0, CASE f.special
                              WHEN 101 THEN 1024      -- FolderVisible
                              WHEN 103 THEN 1024
                              WHEN 105 THEN 1051      -- Author
                              ELSE 1025               -- Reviewer
                          END
    FROM folders f WHERE f.mailbox_id = pid;
END $$;

-- xcadmin public-admin ADDRESS on|off
CREATE FUNCTION xc_set_public_admin(p_address text, p_on boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    uid bigint := xc_user_id(p_address);    -- raises for an unknown one
BEGIN
    IF p_on THEN
        INSERT INTO public_admins VALUES (uid) ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM public_admins WHERE user_id = uid;
    END IF;
END $$;
