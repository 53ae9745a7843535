-- 008_permissions.sql: folder permissions ([MS-OXCPERM]).
--
-- A mailbox's owner may do anything in it. Anyone else gets, per folder,
-- the rights of their own row in folder_permissions, else those of the
-- folder's Default row (member_id 0), else none; Anonymous is member_id
-- -1 (for public folders later). rights are the [MS-OXCPERM] 2.2.7
-- PidTagMemberRights bits: ReadAny 0x1, Create 0x2, EditOwned 0x8,
-- DeleteOwned 0x10, EditAny 0x20, DeleteAny 0x40, CreateSubFolder 0x80,
-- FolderOwner 0x100, FolderContact 0x200, FolderVisible 0x400,
-- FreeBusySimple 0x800, FreeBusyDetailed 0x1000.
--
-- messages.creator_id is who created a message (EditOwned, DeleteOwned);
-- NULL for messages from before this migration, taken as the owner's.
CREATE TABLE folder_permissions (
    mailbox_id bigint NOT NULL,
    fid        bigint NOT NULL,
    member_id  bigint NOT NULL CHECK (member_id >= -1),
    rights     integer NOT NULL CHECK (rights >= 0),
    PRIMARY KEY (mailbox_id, fid, member_id),
    FOREIGN KEY (mailbox_id, fid) REFERENCES folders ON DELETE CASCADE
);
-- "which mailboxes may this user open?" (address resolution)
CREATE INDEX folder_permissions_member ON folder_permissions (member_id)
    WHERE rights <> 0;

ALTER TABLE messages ADD COLUMN creator_id bigint;
