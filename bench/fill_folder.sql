-- bench/fill_folder.sql: fill bob@example.test's Inbox with :rows messages
-- in bulk, straight into the tables (psql -v rows=N -f ...). One subject
-- in 10,000 says "needle". Used by bench/run.sh for the contents-table
-- figures; the search index is filled directly, not by the trigger.
SELECT m.id AS mb, f.fid AS inbox, m.next_gc AS base, m.next_cn AS cnbase
FROM addresses a JOIN mailboxes m ON m.user_id = a.user_id
JOIN folders f ON f.mailbox_id = m.id AND f.special = 5
WHERE a.address = 'bob@example.test' \gset
ALTER TABLE messages DISABLE TRIGGER messages_search;
INSERT INTO messages (mailbox_id, mid, fid, cn, change_key, pcl, subject,
                      delivery_time, message_size, is_read)
SELECT :mb, :base + g, :inbox, :cnbase + g, '\x00', '\x00',
       'Message ' || g || CASE WHEN g % 10000 = 0 THEN ' needle' ELSE '' END ||
       ' about ' || (ARRAY['budget', 'lunch', 'report', 'travel'])[g % 4 + 1],
       timestamptz '2020-01-01' + g * interval '1 minute', 4000, g % 3 = 0
FROM generate_series(1, :rows) g;
INSERT INTO message_props (mailbox_id, mid, tag, tval)
SELECT mailbox_id, mid, 3604511, subject FROM messages WHERE mailbox_id = :mb AND fid = :inbox;
INSERT INTO message_props (mailbox_id, mid, tag, ival)
SELECT mailbox_id, mid, 235274304,
       (extract(epoch FROM delivery_time) * 10000000)::bigint + 116444736000000000
FROM messages WHERE mailbox_id = :mb AND fid = :inbox;
INSERT INTO message_search (mailbox_id, mid, fts)
SELECT mailbox_id, mid, to_tsvector('simple', subject) FROM messages
WHERE mailbox_id = :mb AND fid = :inbox;
ALTER TABLE messages ENABLE TRIGGER messages_search;
UPDATE mailboxes SET next_gc = next_gc + :rows + 1, next_cn = next_cn + :rows + 1 WHERE id = :mb;
UPDATE folders SET content_count = :rows, unread_count = :rows - :rows / 3
WHERE mailbox_id = :mb AND fid = :inbox;
VACUUM ANALYZE messages;
VACUUM ANALYZE message_props;
VACUUM ANALYZE message_search;
