-- 018_mail_queue.sql: mtad's durable mail queue ([MS-OXPROTO] 2.1.2, the
-- message processing system), visible in SQL.
--
-- A message mtad accepts is one mail_queue row (envelope and its bytes as
-- a blob, single-instance like every large value) and one mail_queue_rcpt
-- row per recipient, written in one transaction that commits (synchronous
-- commit) before mtad answers 250. Each recipient then leaves the queue in
-- the transaction that delivers it: a local delivery saves the message
-- and calls xc_queue_done in the same commit, so a crash of mtad, storaged
-- or PostgreSQL at any moment leaves every accepted message delivered
-- exactly once or still queued. The queue row and its blob reference go
-- with the last recipient.
CREATE TABLE mail_queue (
    id          bigserial PRIMARY KEY,
    sender      text NOT NULL,              -- '' for the null reverse-path
    blob        bytea NOT NULL REFERENCES blobs (hash),
    size        bigint NOT NULL CHECK (size > 0),
    client      text NOT NULL DEFAULT '',   -- who sent it (address, HELO)
    auth_user   bigint REFERENCES users ON DELETE SET NULL,  -- submissions
    envid       text,                       -- RFC 3461 ENVID (decoded)
    ret         text CHECK (ret IN ('FULL', 'HDRS')),
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_queue_blob ON mail_queue (blob);

CREATE TABLE mail_queue_rcpt (
    queue_id    bigint NOT NULL REFERENCES mail_queue ON DELETE CASCADE,
    idx         integer NOT NULL CHECK (idx >= 0),
    address     text NOT NULL,
    domain      text NOT NULL,              -- the destination (per-domain queues)
    mailbox_id  bigint REFERENCES mailboxes ON DELETE SET NULL,  -- local
    notify      text,                       -- RFC 3461 NOTIFY
    orcpt       text,                       -- RFC 3461 ORCPT
    attempts    integer NOT NULL DEFAULT 0,
    next_try    timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,               -- taken by a delivery agent
    last_error  text,
    warned      boolean NOT NULL DEFAULT false, -- delay DSN sent
    PRIMARY KEY (queue_id, idx)
);
CREATE INDEX mail_queue_rcpt_due ON mail_queue_rcpt (next_try);

-- A recipient is done (delivered, or given up on with a bounce queued):
-- its row goes, and with the last one the message and its blob reference.
-- Raises XCD01 when the row is gone already: another agent delivered it,
-- and the transaction that would deliver it again must not commit.
CREATE FUNCTION xc_queue_done(p_queue bigint, p_idx integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_blob bytea;
BEGIN
    DELETE FROM mail_queue_rcpt WHERE queue_id = p_queue AND idx = p_idx;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'queue entry %/% is gone', p_queue, p_idx
            USING ERRCODE = 'XCD01';
    END IF;
    PERFORM 1 FROM mail_queue_rcpt WHERE queue_id = p_queue;
    IF NOT FOUND THEN
        DELETE FROM mail_queue WHERE id = p_queue RETURNING blob INTO v_blob;
        UPDATE blobs SET refcount = refcount - 1 WHERE hash = v_blob;
    END IF;
END $$;

-- A delivery attempt failed temporarily: try again after a back-off that
-- doubles from p_first_secs (capped at p_max_secs). p_warned: a delay
-- notification went to the sender (it goes once).
CREATE FUNCTION xc_queue_defer(p_queue bigint, p_idx integer, p_error text,
                               p_first_secs integer, p_max_secs integer,
                               p_warned boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mail_queue_rcpt
    SET attempts = attempts + 1, last_error = p_error, leased_until = NULL,
        warned = warned OR p_warned,
        next_try = now() + make_interval(secs =>
            least(p_max_secs, p_first_secs * power(2, least(attempts, 30))))
    WHERE queue_id = p_queue AND idx = p_idx;
END $$;

-- Recipients due for delivery, leased for p_lease_secs so that another
-- agent (a second mtad) skips them meanwhile. Leases of an agent that died
-- run out and the rows come back.
CREATE FUNCTION xc_queue_take(p_limit integer, p_lease_secs integer)
RETURNS TABLE (queue_id bigint, idx integer, address text,
               mailbox_id bigint, sender text, size bigint, attempts integer,
               domain text, notify text, orcpt text, warned boolean,
               envid text, ret text, age_secs bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH due AS (
        SELECT r.queue_id, r.idx FROM mail_queue_rcpt r
        WHERE r.next_try <= now()
          AND (r.leased_until IS NULL OR r.leased_until < now())
        ORDER BY r.next_try LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    ), leased AS (
        UPDATE mail_queue_rcpt r
        SET leased_until = now() + make_interval(secs => p_lease_secs)
        FROM due WHERE r.queue_id = due.queue_id AND r.idx = due.idx
        RETURNING r.queue_id, r.idx, r.address, r.mailbox_id, r.attempts,
                  r.domain, r.notify, r.orcpt, r.warned
    )
    SELECT l.queue_id, l.idx, l.address, l.mailbox_id, q.sender, q.size,
           l.attempts, l.domain, l.notify, l.orcpt, l.warned, q.envid,
           q.ret, extract(epoch FROM now() - q.received_at)::bigint
    FROM leased l JOIN mail_queue q ON q.id = l.queue_id
    ORDER BY l.queue_id, l.domain, l.idx;
END $$;

-- The admin's queue tool (tools/xcadmin queue ...): deliver now, or drop a
-- message with all its recipients (no bounce).
CREATE FUNCTION xc_queue_flush(p_queue bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    -- leases too (their holder may have died); a holder still at work
    -- can't deliver twice: mtad skips what it is sending, and a local
    -- delivery commits only with its recipient's queue row (xc_queue_done)
    UPDATE mail_queue_rcpt SET next_try = now(), leased_until = NULL
    WHERE p_queue IS NULL OR queue_id = p_queue;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

CREATE FUNCTION xc_queue_delete(p_queue bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n bigint := 0;
BEGIN
    FOR r IN SELECT idx FROM mail_queue_rcpt WHERE queue_id = p_queue
             ORDER BY idx FOR UPDATE LOOP
        PERFORM xc_queue_done(p_queue, r.idx);
        n := n + 1;
    END LOOP;
    IF n = 0 THEN
        RAISE EXCEPTION 'no queued message %', p_queue USING ERRCODE = 'no_data_found';
    END IF;
    RETURN n;
END $$;
