-- 001_directory.sql: accepted domains, users, SMTP addresses, mailboxes and
-- their folder trees with the special folders of [MS-OXOSFLD].
--
-- Folder ids are 48-bit global counters allocated per mailbox
-- ([MS-OXCDATA] 2.2.1.1); storaged adds the replica id on the wire.

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO settings VALUES ('organization', 'First Organization'),
    ('deployment_id', gen_random_uuid()::text);  -- Autodiscover DeploymentId

CREATE TABLE domains (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE
               CHECK (name = lower(name) AND name ~ '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    domain_id     bigint NOT NULL REFERENCES domains,
    display_name  text NOT NULL DEFAULT '',
    -- an encoded argon2id hash ("$argon2id$v=19$m=...,t=...,p=...$salt$hash");
    -- NULL: no password login
    password_hash text CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
    enabled       boolean NOT NULL DEFAULT true,
    legacy_dn     text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Every SMTP address of a user: exactly one primary, any number of aliases.
CREATE TABLE addresses (
    address    text PRIMARY KEY
               CHECK (address = lower(address) AND address ~ '^[^@\s]+@[^@\s]+$'),
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    is_primary boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX addresses_one_primary ON addresses (user_id) WHERE is_primary;
CREATE INDEX addresses_user ON addresses (user_id);

CREATE TABLE mailboxes (
    id         bigserial PRIMARY KEY,
    user_id    bigint UNIQUE REFERENCES users ON DELETE CASCADE,
    kind       text NOT NULL DEFAULT 'private' CHECK (kind IN ('private', 'public')),
    replica_id integer NOT NULL DEFAULT 1,
    replica_guid uuid NOT NULL DEFAULT gen_random_uuid(),
    next_gc    bigint NOT NULL DEFAULT 1 CHECK (next_gc < 281474976710656),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Which special folder a folder is, as storaged reports it
-- (PR_XC_SPECIAL_FOLDER); the names are those Exchange gives them.
CREATE TABLE special_folders (
    id              smallint PRIMARY KEY,
    name            text NOT NULL,
    parent          smallint REFERENCES special_folders,
    container_class text,
    folder_type     smallint NOT NULL DEFAULT 1   -- 0 root, 1 generic, 2 search
);
INSERT INTO special_folders (id, name, parent, container_class, folder_type) VALUES
    ( 1, '',                NULL, NULL,               0),  -- the root
    ( 2, 'Deferred Action',    1, NULL,               1),
    ( 3, 'Spooler Queue',      1, NULL,               1),
    ( 4, 'Top of Information Store', 1, NULL,         1),  -- IPM subtree
    ( 5, 'Inbox',              4, 'IPF.Note',         1),
    ( 6, 'Outbox',             4, 'IPF.Note',         1),
    ( 7, 'Sent Items',         4, 'IPF.Note',         1),
    ( 8, 'Deleted Items',      4, 'IPF.Note',         1),
    ( 9, 'Common Views',       1, NULL,               1),
    (10, 'Schedule',           1, NULL,               1),
    (11, 'Finder',             1, NULL,               1),  -- search root
    (12, 'Views',              1, NULL,               1),
    (13, 'Shortcuts',          1, NULL,               1),
    (14, 'Calendar',           4, 'IPF.Appointment',  1),
    (15, 'Contacts',           4, 'IPF.Contact',      1),
    (16, 'Journal',            4, 'IPF.Journal',      1),
    (17, 'Notes',              4, 'IPF.StickyNote',   1),
    (18, 'Tasks',              4, 'IPF.Task',         1),
    (19, 'Drafts',             4, 'IPF.Note',         1),
    (20, 'Junk E-mail',        4, 'IPF.Note',         1);

CREATE TABLE folders (
    mailbox_id      bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
    fid             bigint NOT NULL,   -- global counter within the mailbox
    parent_fid      bigint,
    display_name    text NOT NULL,
    container_class text,
    folder_type     smallint NOT NULL DEFAULT 1,
    special         smallint REFERENCES special_folders,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, fid),
    FOREIGN KEY (mailbox_id, parent_fid) REFERENCES folders (mailbox_id, fid)
        ON DELETE CASCADE,
    CHECK ((parent_fid IS NULL) = (special IS NOT DISTINCT FROM 1))
);
CREATE UNIQUE INDEX folders_special ON folders (mailbox_id, special)
    WHERE special IS NOT NULL;
CREATE UNIQUE INDEX folders_name ON folders (mailbox_id, parent_fid, lower(display_name));

-- Allocate n global counter values in one mailbox; returns the first.
CREATE FUNCTION xc_alloc_gc(p_mailbox bigint, n integer DEFAULT 1)
RETURNS bigint LANGUAGE sql AS $$
    UPDATE mailboxes SET next_gc = next_gc + n WHERE id = p_mailbox
    RETURNING next_gc - n;
$$;

-- Create the special folders of a new mailbox, parents first.
CREATE FUNCTION xc_create_special_folders(p_mailbox bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sf record;
    first_gc bigint;
    n integer;
BEGIN
    SELECT count(*) INTO n FROM special_folders;
    first_gc := xc_alloc_gc(p_mailbox, n);
    FOR sf IN
        WITH RECURSIVE tree AS (
            SELECT s.*, 0 AS depth FROM special_folders s WHERE parent IS NULL
            UNION ALL
            SELECT s.*, t.depth + 1 FROM special_folders s JOIN tree t ON s.parent = t.id
        ) SELECT * FROM tree ORDER BY depth, id
    LOOP
        INSERT INTO folders (mailbox_id, fid, parent_fid, display_name,
                             container_class, folder_type, special)
        VALUES (p_mailbox, first_gc + sf.id - 1,
                CASE WHEN sf.parent IS NULL THEN NULL ELSE first_gc + sf.parent - 1 END,
                sf.name, sf.container_class, sf.folder_type, sf.id);
    END LOOP;
END $$;

-- Directory changes are announced so that every storaged drops cached
-- credentials and address lookups at once.
CREATE FUNCTION xc_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('xc_directory', '');
    RETURN NULL;
END $$;
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION xc_directory_changed();
CREATE TRIGGER addresses_changed AFTER INSERT OR UPDATE OR DELETE ON addresses
    FOR EACH STATEMENT EXECUTE FUNCTION xc_directory_changed();
CREATE TRIGGER domains_changed AFTER INSERT OR UPDATE OR DELETE ON domains
    FOR EACH STATEMENT EXECUTE FUNCTION xc_directory_changed();

-- ---------------------------------------------------------------------
-- Admin functions (see tools/xcadmin). Passwords arrive already hashed:
-- the database never sees a clear-text password.

CREATE FUNCTION xc_create_domain(p_name text) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO domains (name) VALUES (lower(p_name)) RETURNING id;
$$;

CREATE FUNCTION xc_user_id(p_address text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    uid bigint;
BEGIN
    SELECT user_id INTO uid FROM addresses WHERE address = lower(p_address);
    IF uid IS NULL THEN
        RAISE EXCEPTION 'no user has the address %', p_address
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN uid;
END $$;

CREATE FUNCTION xc_create_user(p_address text, p_display_name text,
                               p_password_hash text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    addr text := lower(p_address);
    dom_id bigint;
    uid bigint;
    mbx bigint;
    org text;
BEGIN
    SELECT id INTO dom_id FROM domains WHERE name = split_part(addr, '@', 2);
    IF dom_id IS NULL THEN
        RAISE EXCEPTION 'domain of % is not an accepted domain', p_address
            USING HINT = 'Create it first with xc_create_domain().';
    END IF;
    SELECT value INTO org FROM settings WHERE key = 'organization';
    INSERT INTO users (domain_id, display_name, password_hash, legacy_dn)
    VALUES (dom_id, coalesce(p_display_name, ''), p_password_hash,
            gen_random_uuid()::text)            -- placeholder, set below
    RETURNING id INTO uid;
    UPDATE users SET legacy_dn = '/o=' || org ||
        '/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=' ||
        lpad(to_hex(uid), 8, '0') || '-' || split_part(addr, '@', 1)
    WHERE id = uid;
    INSERT INTO addresses (address, user_id, is_primary) VALUES (addr, uid, true);
    INSERT INTO mailboxes (user_id) VALUES (uid) RETURNING id INTO mbx;
    PERFORM xc_create_special_folders(mbx);
    RETURN uid;
END $$;

CREATE FUNCTION xc_set_password(p_address text, p_password_hash text)
RETURNS void LANGUAGE sql AS $$
    UPDATE users SET password_hash = p_password_hash, updated_at = now()
    WHERE id = xc_user_id(p_address);
$$;

CREATE FUNCTION xc_disable_user(p_address text) RETURNS void
LANGUAGE sql AS $$
    UPDATE users SET enabled = false, updated_at = now()
    WHERE id = xc_user_id(p_address);
$$;

CREATE FUNCTION xc_enable_user(p_address text) RETURNS void
LANGUAGE sql AS $$
    UPDATE users SET enabled = true, updated_at = now()
    WHERE id = xc_user_id(p_address);
$$;

CREATE FUNCTION xc_add_alias(p_address text, p_alias text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM domains WHERE name = split_part(lower(p_alias), '@', 2)) THEN
        RAISE EXCEPTION 'domain of % is not an accepted domain', p_alias;
    END IF;
    INSERT INTO addresses (address, user_id) VALUES (lower(p_alias), xc_user_id(p_address));
END $$;

CREATE FUNCTION xc_remove_alias(p_alias text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM addresses WHERE address = lower(p_alias) AND NOT is_primary;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not an alias', p_alias;
    END IF;
END $$;
