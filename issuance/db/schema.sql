-- The full sscard schema. Kept equal to the numbered migrations applied in order
-- (tests/integration/test_migrations.py checks it); a fresh database gets this file.

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

-- The counter service's records: banks and outlets, operators, holders and
-- their cards, every card transition, the audit trail of personal-data access,
-- request idempotency, printers, home visits, withdrawals and fee schedules.
--
-- Card numbers and identifiers both come from card_number_seq (see
-- issuance.domain.numbers). One person has at most one active card and at
-- most one card being made (partial unique indexes); a bank change keeps the
-- old card active until the new one is activated.

-- A bank's initialising-institution number (初始化机构编号, written to the chip):
-- Beijing's region code and a six-digit serial from this sequence.
CREATE SEQUENCE bank_institution_seq AS integer MINVALUE 1 MAXVALUE 999999;

CREATE TABLE banks (
    code text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{2,6}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    institution_code text NOT NULL UNIQUE CHECK (institution_code ~ '^[0-9]{12}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outlets (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{2,32}$'),
    bank text NOT NULL REFERENCES banks (code),
    name text NOT NULL,
    district text NOT NULL CHECK (district ~ '^1101[0-9]{2}$'),
    address text NOT NULL DEFAULT '',
    can_issue_instantly boolean NOT NULL DEFAULT false,
    has_security_terminal boolean NOT NULL DEFAULT false,
    psam_serial text,
    open boolean NOT NULL DEFAULT true,
    CHECK (NOT can_issue_instantly OR (has_security_terminal AND psam_serial IS NOT NULL))
);

CREATE INDEX outlets_bank ON outlets (bank);

CREATE TABLE outlet_filings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outlet text NOT NULL REFERENCES outlets (code),
    bank text NOT NULL REFERENCES banks (code),
    kind text NOT NULL CHECK (kind IN ('add', 'change', 'close')),
    filed_on date NOT NULL,
    outlet_as_filed jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE operators (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    role text NOT NULL
        CHECK (role IN ('clerk', 'supervisor', 'bank_admin', 'bureau_auditor', 'agent')),
    bank text REFERENCES banks (code),
    outlet text REFERENCES outlets (code),
    token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (role = 'bureau_auditor' OR bank IS NOT NULL)
);

CREATE TABLE holders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- citizen_id, name, phone and address in clear only in rows written before 0007 and
    -- not yet sealed by `sscard keys encrypt-existing`; new rows: NULL, NULL, '', ''.
    citizen_id text UNIQUE CHECK (length(citizen_id) = 18),
    name text,
    gender text NOT NULL CHECK (gender IN ('1', '2')),
    birth_date date NOT NULL,
    ethnicity smallint NOT NULL CHECK (ethnicity BETWEEN 1 AND 56),
    birthplace text NOT NULL CHECK (birthplace ~ '^[0-9]{6}$'),
    phone text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    bank text NOT NULL REFERENCES banks (code),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- HMAC-SHA256 of the citizen ID under the blind-index key (0007).
    citizen_id_index bytea,
    -- The citizen ID, name and phone, sealed together; the address sealed alone (issuance.vault).
    sealed bytea,
    sealed_address bytea,
    -- Set when the retention rules erased the holder's personal data.
    anonymised_at timestamptz,
    CONSTRAINT holders_sealed_or_plain
        CHECK (sealed IS NOT NULL OR citizen_id IS NOT NULL OR anonymised_at IS NOT NULL)
);

CREATE UNIQUE INDEX holders_citizen_id_index ON holders (citizen_id_index);

-- A photo's holder is the holder of the card that shows it (cards.photo). A batch's photos
-- are written ahead of its transaction and name the batch (upload) (0005).
CREATE TABLE holder_photos (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    image bytea NOT NULL,
    media_type text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
    at timestamptz NOT NULL DEFAULT now(),
    upload text
);

CREATE INDEX holder_photos_upload ON holder_photos (upload) WHERE upload IS NOT NULL;

-- Already compressed images: stored out of line without pglz (0004).
ALTER TABLE holder_photos ALTER COLUMN image SET STORAGE EXTERNAL;

-- The batches whose photos are being written ahead; the batch's transaction deletes its row.
CREATE TABLE photo_uploads (
    batch text PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    failed boolean NOT NULL DEFAULT false
);

CREATE SEQUENCE card_number_seq AS bigint MINVALUE 1;

CREATE TABLE cards (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    card_number text NOT NULL UNIQUE,
    card_identifier text NOT NULL UNIQUE,
    holder bigint NOT NULL REFERENCES holders (id),
    bank text NOT NULL REFERENCES banks (code),
    status text NOT NULL CHECK (status IN ('requested', 'in_production', 'ready', 'issued',
        'active', 'lost_temporary', 'lost_formal', 'superseded', 'cancelled', 'spoiled')),
    issue_date date NOT NULL,
    expiry_date date NOT NULL,
    card_data jsonb NOT NULL,
    photo bigint NOT NULL REFERENCES holder_photos (id),
    ordered_at_outlet text REFERENCES outlets (code),
    activated_at_outlet text REFERENCES outlets (code),
    job_id bigint,
    replaces bigint REFERENCES cards (id),
    superseded_by bigint REFERENCES cards (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (expiry_date > issue_date)
);

CREATE UNIQUE INDEX cards_one_active ON cards (holder) WHERE status = 'active';
CREATE UNIQUE INDEX cards_one_pending ON cards (holder)
    WHERE status IN ('requested', 'in_production');
CREATE INDEX cards_holder ON cards (holder);
CREATE INDEX cards_photo ON cards (photo);
CREATE UNIQUE INDEX cards_job ON cards (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE card_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    card bigint NOT NULL REFERENCES cards (id),
    action text NOT NULL,
    from_status text,
    to_status text NOT NULL,
    operator bigint REFERENCES operators (id),
    outlet text REFERENCES outlets (code),
    at timestamptz NOT NULL DEFAULT now(),
    reason text,
    note text NOT NULL DEFAULT ''
);

CREATE INDEX card_events_card ON card_events (card, id);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator bigint NOT NULL REFERENCES operators (id),
    bank text,
    outlet text,
    purpose text NOT NULL,
    holder bigint NOT NULL REFERENCES holders (id),
    action text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_log_holder ON audit_log (holder, at);

CREATE TABLE idempotency (
    operator bigint NOT NULL REFERENCES operators (id),
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_sha256 bytea NOT NULL,
    status integer,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operator, key)
);

CREATE TABLE printers (
    site text NOT NULL,
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ('ok', 'faulted')),
    fault text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, name)
);

CREATE TABLE spoiled_cards (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id bigint NOT NULL,
    card bigint REFERENCES cards (id),
    printer text,
    reason text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    attempt integer
);

CREATE UNIQUE INDEX spoiled_cards_once ON spoiled_cards (job_id, attempt)
    WHERE attempt IS NOT NULL;

CREATE TABLE card_prints (
    job_id bigint NOT NULL,
    attempt integer NOT NULL CHECK (attempt >= 1),
    card_number text NOT NULL,
    worker text NOT NULL,
    announced_at timestamptz NOT NULL DEFAULT now(),
    settled text CHECK (settled IN ('delivered', 'not_printed', 'spoiled', 'absent')),
    evidence text CHECK (length(evidence) <= 2000),
    settled_at timestamptz,
    PRIMARY KEY (job_id, attempt),
    CHECK ((settled IS NULL) = (settled_at IS NULL))
);

CREATE UNIQUE INDEX card_prints_once ON card_prints (card_number)
    WHERE settled IS NULL OR settled = 'delivered';

CREATE TABLE home_visits (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holder bigint NOT NULL REFERENCES holders (id),
    card bigint NOT NULL REFERENCES cards (id),
    outlet text NOT NULL REFERENCES outlets (code),
    appointment_at timestamptz NOT NULL,
    address text NOT NULL,
    job_id bigint NOT NULL,
    operator bigint NOT NULL REFERENCES operators (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE withdrawals (
    card bigint NOT NULL REFERENCES cards (id),
    month date NOT NULL CHECK (extract(day FROM month) = 1),
    count integer NOT NULL CHECK (count >= 0),
    PRIMARY KEY (card, month)
);

CREATE TABLE fee_schedules (
    bank text PRIMARY KEY REFERENCES banks (code),
    amounts jsonb NOT NULL,
    free_withdrawals_per_month integer NOT NULL CHECK (free_withdrawals_per_month >= 5),
    uploaded_by bigint NOT NULL REFERENCES operators (id),
    uploaded_at timestamptz NOT NULL DEFAULT now()
);

-- Expedited small batches (小批量加急制发卡): a batch file checked as a whole
-- and, once accepted, its holders, cards and one expedited job per card,
-- written in one transaction.
--
-- batches holds one row per accepted batch with the counts of its file. The
-- batch is complete when none of its cards is still queued, running or in
-- doubt: every card was made, or failed for good (a dead-lettered job, or one
-- a supervisor failed explicitly with a reason). batch_cards lists the cards
-- of a batch with the file line they came from and, for a card failed
-- explicitly, the reason and who gave it.

CREATE SEQUENCE batch_seq AS integer MINVALUE 1 MAXVALUE 999999 CYCLE;

CREATE TABLE batches (
    id text PRIMARY KEY CHECK (id ~ '^B[0-9]{8}-[0-9]{6}$'),
    bank text NOT NULL REFERENCES banks (code),
    site text NOT NULL CHECK (length(site) BETWEEN 1 AND 64),
    submitted_by bigint NOT NULL REFERENCES operators (id),
    submitted_at timestamptz NOT NULL DEFAULT now(),
    file_kind text NOT NULL CHECK (file_kind IN ('csv', 'json')),
    rows_read integer NOT NULL CHECK (rows_read >= 0),
    accepted integer NOT NULL CHECK (accepted >= 0),
    rejected integer NOT NULL CHECK (rejected >= 0),
    status text NOT NULL DEFAULT 'in_production' CHECK (status IN ('in_production', 'complete')),
    finished_at timestamptz,
    CHECK ((status = 'complete') = (finished_at IS NOT NULL))
);

CREATE INDEX batches_bank ON batches (bank, submitted_at);

CREATE TABLE batch_cards (
    card bigint PRIMARY KEY REFERENCES cards (id),
    batch text NOT NULL REFERENCES batches (id),
    line integer NOT NULL CHECK (line >= 1),
    failed_reason text CHECK (length(failed_reason) BETWEEN 1 AND 500),
    failed_by bigint REFERENCES operators (id),
    failed_at timestamptz,
    CHECK ((failed_reason IS NULL) = (failed_at IS NULL))
);

CREATE INDEX batch_cards_batch ON batch_cards (batch, line);

-- Personal data sealed by the application (0007): the data keys, each wrapped by the master
-- key, which is never stored here. Photos, card data, job payloads, idempotency answers and
-- home-visit addresses hold sealed values in their own columns (docs/encryption.md).

CREATE TABLE data_keys (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose text NOT NULL CHECK (purpose IN ('data', 'index')),
    wrapped bytea NOT NULL,
    master_key text NOT NULL,
    active_from timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);

-- One blind-index key: a second one would split the index.
CREATE UNIQUE INDEX data_keys_one_index_key ON data_keys (purpose) WHERE purpose = 'index';
