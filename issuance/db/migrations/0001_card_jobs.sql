-- The durable card-job queue.
--
-- card_jobs is the hot table: only jobs that are queued, running, in doubt or
-- dead live here. A finished job (succeeded or cancelled) moves to
-- card_jobs_history in the statement that finishes it, so the hot table stays
-- as small as the work in flight. card_job_keys remembers every idempotency key
-- for as long as history is kept, so a retried request finds its job even after
-- the job has finished.

CREATE TABLE card_job_keys (
    idempotency_key text PRIMARY KEY,
    job_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE card_jobs (
    id bigint PRIMARY KEY,
    idempotency_key text NOT NULL,
    kind text NOT NULL,
    site text NOT NULL,
    capability text NOT NULL CHECK (capability IN ('print', 'encode', 'print_encode')),
    priority smallint NOT NULL CHECK (priority BETWEEN 0 AND 2),
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'in_doubt', 'dead')),
    payload jsonb NOT NULL,
    batch text,
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    run_after timestamptz NOT NULL DEFAULT now(),
    lease_owner text,
    lease_expires_at timestamptz,
    step text NOT NULL DEFAULT 'idle',
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE card_jobs_id_seq AS bigint OWNED BY card_jobs.id;

-- The claim path: queued jobs of one site, highest class first, then oldest.
CREATE INDEX card_jobs_queued ON card_jobs (site, priority, id)
    INCLUDE (capability, run_after) WHERE state = 'queued';
-- The reaper: running jobs by lease expiry.
CREATE INDEX card_jobs_leases ON card_jobs (lease_expires_at) WHERE state = 'running';
-- Progress of a batch.
CREATE INDEX card_jobs_batch ON card_jobs (batch) WHERE batch IS NOT NULL;

CREATE TABLE card_jobs_history (
    id bigint PRIMARY KEY,
    idempotency_key text NOT NULL,
    kind text NOT NULL,
    site text NOT NULL,
    capability text NOT NULL,
    priority smallint NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('succeeded', 'cancelled')),
    payload jsonb NOT NULL,
    result jsonb,
    batch text,
    attempts integer NOT NULL,
    enqueued_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    worker text,
    last_error text
);

CREATE INDEX card_jobs_history_finished ON card_jobs_history (finished_at);
CREATE INDEX card_jobs_history_batch ON card_jobs_history (batch) WHERE batch IS NOT NULL;
