-- 015_public_read.sql: read state per user in the public store.
--
-- In a mailbox a message is read or not, for its owner and every delegate
-- alike. In public folders each user has their own read state, as in
-- Exchange ([MS-OXCSTOR] 2.2.1.12: per-user read information of public
-- folders): Alice reading a post leaves it unread for Bob. A row here
-- says that user has read that message; messages.is_read and the folder
-- counts of unread messages are not used in the public store.
CREATE TABLE public_read (
    mailbox_id bigint NOT NULL,
    mid        bigint NOT NULL,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    PRIMARY KEY (mailbox_id, user_id, mid),
    FOREIGN KEY (mailbox_id, mid) REFERENCES messages ON DELETE CASCADE
);
CREATE INDEX public_read_message ON public_read (mailbox_id, mid);
