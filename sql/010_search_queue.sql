-- 010_search_queue.sql: the full-text index is kept in the background.
--
-- 004 computed a message's tsvector in the transaction that saved it, at
-- commit, while the mailbox row was locked: about 40% of a save's time,
-- and all saves into one mailbox waited for it. Now a change of content
-- (a new row, or modified_at set: SAVE_MESSAGE, SET_PROPS, DELETE_PROPS,
-- moves and copies) queues the message here, and every storaged indexes
-- queued messages in a thread of its own, woken by the change's NOTIFY:
-- a message is searchable within a moment of its commit, as in Exchange,
-- whose content index also follows the store. Queued rows survive
-- crashes; several storaged processes share the work (SKIP LOCKED).
CREATE TABLE search_queue (
    mailbox_id bigint NOT NULL,
    mid        bigint NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, mid)
);
CREATE INDEX search_queue_by_time ON search_queue (queued_at);

CREATE FUNCTION xc_queue_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_queue (mailbox_id, mid) VALUES (NEW.mailbox_id, NEW.mid)
    ON CONFLICT (mailbox_id, mid) DO NOTHING;
    RETURN NULL;
END $$;

DROP TRIGGER messages_search ON messages;
CREATE TRIGGER messages_search AFTER INSERT OR UPDATE OF modified_at ON messages
    FOR EACH ROW EXECUTE FUNCTION xc_queue_index();

-- Index up to p_batch queued messages (oldest first); returns how many
-- were taken from the queue. Lock order: the indexer takes the message
-- row (KEY SHARE, as the foreign key of message_search would) together
-- with the queue row and skips both when either is locked, so a save
-- that holds its message and queues it again never waits on the indexer
-- while the indexer waits on it. A skipped message waits for the next
-- round; queued messages deleted since are dropped from the queue.
CREATE FUNCTION xc_index_queued(p_batch integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    k bigint;
BEGIN
    WITH t AS (
        SELECT q.mailbox_id, q.mid FROM search_queue q
        JOIN messages m ON m.mailbox_id = q.mailbox_id AND m.mid = q.mid
        ORDER BY q.queued_at LIMIT p_batch
        FOR UPDATE OF q SKIP LOCKED FOR KEY SHARE OF m SKIP LOCKED
    ), gone AS (
        DELETE FROM search_queue s USING t
        WHERE s.mailbox_id = t.mailbox_id AND s.mid = t.mid
        RETURNING s.mailbox_id, s.mid
    ), ins AS (
        INSERT INTO message_search (mailbox_id, mid, fts)
        SELECT mailbox_id, mid, xc_message_fts(mailbox_id, mid) FROM gone
        ON CONFLICT (mailbox_id, mid) DO UPDATE SET fts = EXCLUDED.fts
        RETURNING 1
    )
    SELECT count(*) INTO n FROM gone;
    DELETE FROM search_queue WHERE ctid = ANY (ARRAY(
        SELECT q.ctid FROM search_queue q
        WHERE NOT EXISTS (SELECT 1 FROM messages m
                          WHERE m.mailbox_id = q.mailbox_id AND m.mid = q.mid)
        LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS k = ROW_COUNT;
    RETURN n + k;
END $$;
