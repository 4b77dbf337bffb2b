-- The bare SQL floor on PostgreSQL, for pgbench: each client claims 16 jobs with SKIP LOCKED
-- on Lifeline's own tables and index, then completes them, each step one transaction that
-- writes the same rows, events and count changes as Lifeline's claim and finish.
BEGIN;
WITH picked AS (
    SELECT id FROM lifeline.jobs WHERE queue = 'default' AND state = 'available'
    ORDER BY priority, run_at, id LIMIT 16 FOR UPDATE SKIP LOCKED),
claimed AS (
    UPDATE lifeline.jobs j
    SET state = 'running', attempt = j.attempt + 1, lease_owner = 'floor-' || :client_id,
        lease_expires_at = 1, heartbeat_at = 1, attempted_at = 1
    FROM picked WHERE j.id = picked.id RETURNING j.id)
INSERT INTO lifeline.events (at, type, job, data) SELECT 1, 'started', id, '{"attempt":1}' FROM claimed;
COMMIT;
BEGIN;
WITH done AS (
    UPDATE lifeline.jobs SET state = 'completed', finished_at = 1, lease_owner = NULL, lease_expires_at = NULL
    WHERE state = 'running' AND lease_owner = 'floor-' || :client_id RETURNING id),
added AS (
    INSERT INTO lifeline.events (at, type, job, data) SELECT 1, 'completed', id, '{"attempt":1}' FROM done RETURNING type, at, job)
INSERT INTO lifeline.outcome_count_changes (queue, type, second, n)
SELECT j.queue, a.type, a.at / 1000, count(*) FROM added a JOIN lifeline.jobs j ON j.id = a.job GROUP BY j.queue, a.type, a.at / 1000;
COMMIT;
