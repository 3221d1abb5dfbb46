-- The card-job queue's statements. Loaded once by cardqueue.queue.Queue.
-- Columns returned for a job, in this order, everywhere: see JOB_COLUMNS in queue.py.

-- name: enqueue_many
-- Enqueue many jobs in one statement: all or none. An idempotency key that is
-- already known inserts nothing (the caller looks its job up afterwards).
-- One notification per statement, naming the sites that got work. $9 is the
-- queue's clock (NULL: the database's now()).
WITH input AS MATERIALIZED (
    SELECT nextval('card_jobs_id_seq') AS id, t.*
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int2[], $6::text[],
                $7::text[], $8::int4[])
        AS t(idempotency_key, kind, site, capability, priority, payload, batch, max_attempts)
),
new_keys AS (
    INSERT INTO card_job_keys (idempotency_key, job_id)
    SELECT idempotency_key, id FROM input
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING idempotency_key, job_id
),
inserted AS (
    INSERT INTO card_jobs (id, idempotency_key, kind, site, capability, priority, payload,
                           batch, max_attempts, run_after)
    SELECT i.id, i.idempotency_key, i.kind, i.site, i.capability, i.priority, i.payload::jsonb,
           i.batch, i.max_attempts, coalesce($9::timestamptz, now())
    FROM input i JOIN new_keys k ON k.job_id = i.id
    RETURNING site
),
woken AS (
    SELECT pg_notify('sscard_jobs', CASE WHEN length(s) > 7000 THEN '*' ELSE s END)
    FROM (SELECT string_agg(DISTINCT site, ',') AS s FROM inserted) AS sites
    WHERE s IS NOT NULL
)
SELECT k.idempotency_key, k.job_id FROM new_keys k LEFT JOIN woken ON true;

-- name: job_ids_by_key
SELECT idempotency_key, job_id FROM card_job_keys WHERE idempotency_key = ANY($1::text[]);

-- name: claim
-- Claim up to $3 queued jobs of site $1 that devices with capabilities $2 can do,
-- for worker $4 with a lease of $5 s; $6 is the queue's clock (NULL: now()). The
-- statement is the function card_jobs_claim (schema.sql), whose plan does not depend
-- on the table's statistics.
SELECT * FROM card_jobs_claim($1, $2, $3, $4, $5, $6);

-- name: heartbeat
-- Extend the leases of jobs $1 held by $2 and record the physical step $4 they are at;
-- $5 is the queue's clock (NULL: now()). A lease never goes back to 'idle' once a physical
-- step was announced (an older beat arriving late must not hide a fed body).
UPDATE card_jobs
SET lease_expires_at = coalesce($5::timestamptz, now()) + make_interval(secs => $3),
    step = CASE WHEN $4 = 'idle' THEN step ELSE $4 END, updated_at = now()
WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'running'
RETURNING id;

-- name: complete
-- Finish jobs $1 held by $2 with results $3 (JSON text, same order): they leave the hot table.
WITH done AS (
    DELETE FROM card_jobs
    WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'running'
    RETURNING *
)
INSERT INTO card_jobs_history (id, idempotency_key, kind, site, capability, priority, outcome,
                               payload, result, batch, attempts, enqueued_at, worker, last_error)
SELECT d.id, d.idempotency_key, d.kind, d.site, d.capability, d.priority, 'succeeded',
       d.payload, r.result::jsonb, d.batch, d.attempts, d.enqueued_at, d.lease_owner, d.last_error
FROM done d
LEFT JOIN unnest($1::bigint[], $3::text[]) AS r(id, result) ON r.id = d.id
RETURNING id;

-- name: fail
-- Job $1 held by $2 failed with $3. Transient ($4) failures retry after an
-- exponential backoff (base $5 s, cap $6 s, full jitter in [50 %, 100 %]) until
-- max_attempts; anything else is dead-lettered. $7 is the queue's clock (NULL: now()).
UPDATE card_jobs
SET state = CASE WHEN $4 AND attempts < max_attempts THEN 'queued' ELSE 'dead' END,
    run_after = CASE WHEN $4 AND attempts < max_attempts
        THEN coalesce($7::timestamptz, now())
             + make_interval(secs => least($6, $5 * power(2, attempts - 1))
                                           * (0.5 + random() * 0.5))
        ELSE run_after END,
    lease_owner = NULL, lease_expires_at = NULL, step = 'idle', last_error = $3,
    updated_at = now()
WHERE id = $1 AND lease_owner = $2 AND state = 'running'
RETURNING state, run_after;

-- name: reap_expired
-- Jobs whose lease ran out: back to the queue when nothing physical had
-- started, otherwise in doubt (to be reconciled, never blindly retried). $1 is the
-- queue's clock (NULL: now()).
WITH expired AS MATERIALIZED (
    SELECT id FROM card_jobs
    WHERE state = 'running' AND lease_expires_at < coalesce($1::timestamptz, now())
    FOR UPDATE SKIP LOCKED
)
UPDATE card_jobs AS j
SET state = CASE WHEN j.step <> 'idle' THEN 'in_doubt'
                 WHEN j.attempts < j.max_attempts THEN 'queued'
                 ELSE 'dead' END,
    last_error = 'lease of ' || j.lease_owner || ' expired at step ' || j.step,
    lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
FROM expired
WHERE j.id = expired.id
RETURNING j.id, j.state, j.step;

-- name: cancel
-- Cancel job $1 if it is queued or dead; it leaves the hot table.
WITH gone AS (
    DELETE FROM card_jobs WHERE id = $1 AND state IN ('queued', 'dead') RETURNING *
)
INSERT INTO card_jobs_history (id, idempotency_key, kind, site, capability, priority, outcome,
                               payload, batch, attempts, enqueued_at, last_error)
SELECT id, idempotency_key, kind, site, capability, priority, 'cancelled', payload, batch,
       attempts, enqueued_at, coalesce($2, last_error)
FROM gone
RETURNING id;

-- name: redrive
-- A dead job goes back to the queue with a fresh set of attempts; $2 is the clock. The attempt
-- count goes on (it is not reset): a print or a spoiled body is recorded per (job, attempt), so an
-- attempt number must never name two runs.
UPDATE card_jobs
SET state = 'queued', max_attempts = attempts + max_attempts, run_after = coalesce($2::timestamptz, now()), step = 'idle', updated_at = now()
WHERE id = $1 AND state = 'dead'
RETURNING id;

-- name: requeue_in_doubt
-- Reconciled: the physical work never started, so the job may run again; $3 is the clock.
UPDATE card_jobs
SET state = 'queued', run_after = coalesce($3::timestamptz, now()), step = 'idle', last_error = $2, updated_at = now()
WHERE id = $1 AND state = 'in_doubt'
RETURNING id;

-- name: bury_in_doubt
-- Reconciled: the physical work failed (e.g. a spoiled card); a person decides.
UPDATE card_jobs
SET state = 'dead', step = 'idle', last_error = $2, updated_at = now()
WHERE id = $1 AND state = 'in_doubt'
RETURNING id;

-- name: finish_in_doubt
-- Reconciled: the work was done before the worker vanished.
WITH done AS (
    DELETE FROM card_jobs WHERE id = $1 AND state = 'in_doubt' RETURNING *
)
INSERT INTO card_jobs_history (id, idempotency_key, kind, site, capability, priority, outcome,
                               payload, result, batch, attempts, enqueued_at, last_error)
SELECT id, idempotency_key, kind, site, capability, priority, 'succeeded', payload, $2::jsonb,
       batch, attempts, enqueued_at, last_error
FROM done
RETURNING id;

-- name: finish_by_evidence
-- The card of in-doubt or dead job $1 was found (its chip read back): the job succeeded.
WITH done AS (
    DELETE FROM card_jobs WHERE id = $1 AND state IN ('in_doubt', 'dead') RETURNING *
)
INSERT INTO card_jobs_history (id, idempotency_key, kind, site, capability, priority, outcome,
                               payload, result, batch, attempts, enqueued_at, last_error)
SELECT id, idempotency_key, kind, site, capability, priority, 'succeeded', payload, $2::jsonb,
       batch, attempts, enqueued_at, last_error
FROM done
RETURNING id;

-- name: release
-- A restarted worker $1 gives back the jobs of sites $3 it holds at step idle (nothing
-- physical started), except $2 (those it is settling itself): queued again at once, the
-- attempt not counted against its budget (one more allowed; the number itself is never reused).
-- Every running job holds a lease: the condition on it lets the reaper's index find them (0017).
UPDATE card_jobs
SET state = 'queued', max_attempts = max_attempts + 1, run_after = now(),
    lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
WHERE lease_owner = $1 AND state = 'running' AND lease_expires_at IS NOT NULL AND step = 'idle'
  AND NOT (id = ANY($2::bigint[])) AND site = ANY($3::text[])
RETURNING id;

-- name: get_job
SELECT id, idempotency_key, kind, site, capability, priority, state, step, payload::text, batch,
       attempts, max_attempts, enqueued_at, lease_owner, lease_expires_at, last_error,
       NULL::text AS result
FROM card_jobs WHERE id = $1
UNION ALL
SELECT id, idempotency_key, kind, site, capability, priority, outcome, 'idle', payload::text,
       batch, attempts, attempts, enqueued_at, worker, NULL, last_error, result::text
FROM card_jobs_history WHERE id = $1;

-- name: depth
-- Queued jobs per site and class, with the oldest enqueue time.
SELECT site, priority, count(*) AS depth, min(enqueued_at) AS oldest
FROM card_jobs WHERE state = 'queued'
GROUP BY site, priority ORDER BY site, priority;

-- name: queued_count
SELECT count(*) FROM card_jobs WHERE state = 'queued' AND site = $1;

-- name: state_counts
SELECT state, count(*) AS n FROM card_jobs GROUP BY state;

-- name: batch_counts
-- How the jobs of one batch stand, hot and finished.
SELECT state, step, count(*) AS n FROM card_jobs WHERE batch = $1 GROUP BY state, step
UNION ALL
SELECT outcome, 'idle', count(*) FROM card_jobs_history WHERE batch = $1 GROUP BY outcome;

-- name: prune_history
-- Forget up to $2 finished jobs older than $1, and their idempotency keys.
WITH old AS (
    SELECT id FROM card_jobs_history WHERE finished_at < $1 ORDER BY finished_at LIMIT $2
),
gone AS (
    DELETE FROM card_jobs_history h USING old WHERE h.id = old.id RETURNING h.idempotency_key
)
DELETE FROM card_job_keys k USING gone WHERE k.idempotency_key = gone.idempotency_key
RETURNING k.idempotency_key;
