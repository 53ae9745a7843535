-- 007_index_on_content.sql: the full-text index follows content changes
-- only.
--
-- 004 re-indexed a message whenever its cn changed, and a change of read
-- state takes a new cn too, so every \Seen from IMAP or "mark as read"
-- from Outlook re-read and re-indexed the whole message. Writers that
-- change content (SAVE_MESSAGE, SET_PROPS, DELETE_PROPS) set modified_at;
-- SET_READ does not. Moves and copies insert a new row, which indexes it.
DROP TRIGGER messages_search ON messages;
CREATE CONSTRAINT TRIGGER messages_search
    AFTER INSERT OR UPDATE OF modified_at ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xc_index_message();
