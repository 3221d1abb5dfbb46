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
-- The reaper: running jobs by lease expiry (a lease is set exactly while a job runs). Not
-- partial on state, so that statements naming jobs by id always read the primary key (0017).
CREATE INDEX card_jobs_leases ON card_jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
-- Progress of a batch.
CREATE INDEX card_jobs_batch ON card_jobs (batch) WHERE batch IS NOT NULL;

-- The claim, as a function whose planner settings make its plan the same on a table with
-- statistics and on one without: a freshly loaded table (before autovacuum has analysed
-- it) would otherwise be read by a bitmap scan and sorted, every queued job of the site at
-- each claim, instead of walking the card_jobs_queued index in order and stopping at the limit.
CREATE FUNCTION card_jobs_claim(
    p_site text, p_capabilities text[], p_limit integer, p_worker text,
    p_lease_seconds double precision, p_now timestamptz
) RETURNS TABLE (
    id bigint, idempotency_key text, kind text, site text, capability text, priority smallint,
    state text, step text, payload text, batch text, attempts integer, max_attempts integer,
    enqueued_at timestamptz, lease_owner text, lease_expires_at timestamptz, last_error text,
    result text
)
LANGUAGE plpgsql
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH picked AS MATERIALIZED (
        SELECT c.id FROM card_jobs c
        WHERE c.state = 'queued' AND c.site = p_site AND c.capability = ANY(p_capabilities)
          AND c.run_after <= coalesce(p_now, now())
        ORDER BY c.priority, c.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE card_jobs AS j
    SET state = 'running', attempts = j.attempts + 1, lease_owner = p_worker,
        lease_expires_at = coalesce(p_now, now()) + make_interval(secs => p_lease_seconds),
        step = 'idle', updated_at = now()
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.id, j.idempotency_key, j.kind, j.site, j.capability, j.priority, j.state, j.step,
              j.payload::text, j.batch, j.attempts, j.max_attempts, j.enqueued_at,
              j.lease_owner, j.lease_expires_at, j.last_error, NULL::text;
END
$$;

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
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The bank's lifecycle (0006): see issuance.domain.banks.OnboardingStage.
    stage text NOT NULL
        CHECK (stage IN ('applied', 'under_review', 'approved', 'rejected', 'system_integration',
                         'acceptance', 'agreement_signed', 'published', 'active', 'suspended',
                         'exited')),
    registered_as_existing boolean NOT NULL DEFAULT false,
    -- 第四条: the PBOC conformity review of its card, and nationwide remote activation.
    pboc_review_ref text CHECK (length(pboc_review_ref) BETWEEN 1 AND 200),
    pboc_reviewed_on date,
    remote_activation_committed boolean NOT NULL DEFAULT false,
    exit_ground text
);

CREATE TABLE outlets (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{2,32}$'),
    bank text NOT NULL REFERENCES banks (code),
    name text NOT NULL,
    district text NOT NULL,
    address text NOT NULL DEFAULT '',
    can_issue_instantly boolean NOT NULL DEFAULT false,
    has_security_terminal boolean NOT NULL DEFAULT false,
    psam_serial text,
    open boolean NOT NULL DEFAULT true,
    -- 0006: the filing form's other fields; activation-only outlets may be outside Beijing
    opening_hours text NOT NULL DEFAULT '',
    services text[] NOT NULL DEFAULT '{}',
    activation_only boolean NOT NULL DEFAULT false,
    CHECK (NOT can_issue_instantly OR (has_security_terminal AND psam_serial IS NOT NULL)),
    CONSTRAINT outlets_district_check
        CHECK (district ~ '^[0-9]{6}$' AND (activation_only OR district ~ '^1101[0-9]{2}$')),
    CONSTRAINT outlets_activation_only_check CHECK (NOT (activation_only AND can_issue_instantly))
);

CREATE INDEX outlets_bank ON outlets (bank);

CREATE TABLE operators (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    role text NOT NULL
        CHECK (role IN ('clerk', 'supervisor', 'bank_admin', 'bureau_auditor', 'bureau_admin',
                        'agent')),
    bank text REFERENCES banks (code),
    outlet text REFERENCES outlets (code),
    created_at timestamptz NOT NULL DEFAULT now(),
    password_scrypt text,
    totp_secret text,
    totp_confirmed boolean NOT NULL DEFAULT false,
    totp_last_step bigint NOT NULL DEFAULT 0,
    CHECK (role IN ('bureau_auditor', 'bureau_admin') OR bank IS NOT NULL)
);

-- Operators' bearer tokens (0008): stored as SHA-256, each with an expiry; a revoked or
-- expired token is refused. Issued by `sscard operator create|token`, by sign-in or by
-- rotation. Sign-in checks a password (scrypt) and, where required or enrolled, a TOTP
-- code; sign_in_attempts limits failures per operator name and per address.
CREATE TABLE operator_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator bigint NOT NULL REFERENCES operators (id),
    token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    via text NOT NULL CHECK (via IN ('issued', 'sign_in', 'rotation')),
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE INDEX operator_tokens_live ON operator_tokens (operator) WHERE revoked_at IS NULL;

CREATE TABLE sign_in_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    address text NOT NULL,
    succeeded boolean NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sign_in_attempts_name ON sign_in_attempts (name, at);
CREATE INDEX sign_in_attempts_address ON sign_in_attempts (address, at);

CREATE TABLE outlet_filings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outlet text NOT NULL,  -- an opening filing names an outlet that exists once acknowledged
    bank text NOT NULL REFERENCES banks (code),
    kind text NOT NULL CHECK (kind IN ('add', 'change', 'close')),
    filed_on date NOT NULL,
    outlet_as_filed jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    -- 0006: the bureau's decision, and the 70 % rule as the filing would leave the bank
    status text NOT NULL DEFAULT 'acknowledged'
        CHECK (status IN ('filed', 'acknowledged', 'returned')),
    filed_by bigint REFERENCES operators (id),
    decided_by bigint REFERENCES operators (id),
    decided_at timestamptz,
    decision_note text NOT NULL DEFAULT '',
    instant_after integer,
    open_after integer,
    below_instant_share boolean NOT NULL DEFAULT false
);

CREATE INDEX outlet_filings_outlet ON outlet_filings (outlet, id);
CREATE INDEX outlet_filings_pending ON outlet_filings (bank) WHERE status = 'filed';

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
-- Temporary losses, looked at every minute for the ones past their time (0016).
CREATE INDEX cards_lost_temporary ON cards (id) WHERE status = 'lost_temporary';

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
    id bigint PRIMARY KEY,
    operator bigint NOT NULL REFERENCES operators (id),
    bank text,
    outlet text,
    purpose text NOT NULL,
    holder bigint REFERENCES holders (id),
    action text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    card bigint,
    detail text NOT NULL DEFAULT '',
    prev_hash bytea NOT NULL CONSTRAINT audit_log_prev_hash_length CHECK (length(prev_hash) = 32),
    hash bytea NOT NULL CONSTRAINT audit_log_hash_length CHECK (length(hash) = 32)
);

CREATE INDEX audit_log_holder ON audit_log (holder, at);

-- The audit trail, append-only and hash-chained (0008). Every row carries the SHA-256 of the
-- row before it (prev_hash) and its own hash over a canonical text of its fields
-- (audit_canonical); the insert trigger draws the id and links the row under an advisory
-- lock held to the end of the transaction, so concurrent writers chain one after another.
-- audit_chain_head remembers the last row, so rows cut off the end are noticed too.
-- Rows cannot be updated, deleted or truncated (triggers, for every role); see
-- docs/audit.md and `sscard audit verify`.
CREATE SEQUENCE audit_log_seq AS bigint;

CREATE TABLE audit_chain_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_id bigint NOT NULL,
    last_hash bytea NOT NULL CHECK (length(last_hash) = 32)
);

INSERT INTO audit_chain_head (last_id, last_hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);

CREATE INDEX audit_log_operator ON audit_log (operator, id);
CREATE INDEX audit_log_card ON audit_log (card, id) WHERE card IS NOT NULL;
CREATE INDEX audit_log_bank ON audit_log (bank, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_field(value text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN '~' ELSE octet_length(value)::text || ':' || value END
$$;

CREATE FUNCTION audit_canonical(r audit_log) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT concat_ws('|', audit_field(r.id::text), audit_field(encode(r.prev_hash, 'hex')),
        audit_field(to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        audit_field(r.operator::text), audit_field(r.bank), audit_field(r.outlet),
        audit_field(r.purpose), audit_field(r.holder::text), audit_field(r.card::text),
        audit_field(r.action), audit_field(r.detail))
$$;

CREATE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit rows are written at READ COMMITTED only'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM pg_advisory_xact_lock(6065001);
    SELECT hash INTO prev FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.id := nextval('audit_log_seq');
    NEW.prev_hash := coalesce(prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := sha256(convert_to(audit_canonical(NEW), 'UTF8'));
    RETURN NEW;
END
$$;

-- SECURITY DEFINER: the service's role moves the head without holding UPDATE on it.
CREATE FUNCTION audit_chain_advance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- from the statement's own rows, numbered under the chain lock; a statement that inserted no
    -- row (an empty INSERT ... SELECT) leaves the head as it is, without locking it
    UPDATE audit_chain_head SET (last_id, last_hash) = (latest.id, latest.hash)
    FROM (SELECT id, hash FROM inserted ORDER BY id DESC LIMIT 1) AS latest;
    RETURN NULL;
END
$$;

CREATE FUNCTION audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION audit_chain_head_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_id < OLD.last_id THEN
        RAISE EXCEPTION 'the audit trail is append-only (the chain head only moves forward)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain();
CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_advance();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward();
CREATE TRIGGER audit_chain_head_kept BEFORE DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_chain_head FROM PUBLIC;

-- Audit records of requests commit with them into audit_pending and are chained into audit_log
-- in batches by audit_chain_pending() (0015), under the chain lock, in the order they were
-- written: every API process calls it every second and every read of the trail calls it first.
-- An audited commit takes no lock, so the commits of audited requests are flushed together.
CREATE TABLE audit_pending (
    n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator bigint NOT NULL,
    bank text,
    outlet text,
    purpose text NOT NULL,
    holder bigint,
    action text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    card bigint,
    detail text NOT NULL DEFAULT ''
);

-- SECURITY DEFINER: the service's role inserts pending records but cannot delete them.
CREATE FUNCTION audit_chain_pending(max_rows integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    moved integer;
BEGIN
    -- one chainer at a time; the next one's statement below then sees what this one moved
    PERFORM pg_advisory_xact_lock(6065001);
    WITH taken AS (
        DELETE FROM audit_pending
        WHERE n IN (SELECT n FROM audit_pending ORDER BY n LIMIT max_rows)
        RETURNING n, operator, bank, outlet, purpose, holder, action, at, card, detail
    )
    INSERT INTO audit_log (operator, bank, outlet, purpose, holder, action, at, card, detail)
    SELECT operator, bank, outlet, purpose, holder, action, at, card, detail
    FROM taken ORDER BY n;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END
$$;

REVOKE UPDATE, DELETE, TRUNCATE ON audit_pending FROM PUBLIC;

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
    job_id bigint,  -- the card ordered for an application; none for other services (0006)
    operator bigint NOT NULL REFERENCES operators (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    service text NOT NULL DEFAULT 'apply',
    status text NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'done', 'cancelled', 'missed')),
    outcome text NOT NULL DEFAULT '',
    updated_at timestamptz
);

CREATE INDEX home_visits_outlet ON home_visits (outlet, appointment_at);

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

-- The bureau's oversight (0006): the decisions that move a bank through its lifecycle
-- (who, when, the documents referred to), spot checks, the yearly evaluation with its
-- imported inputs, interviews (约谈) and the incidents register (第五条(八)).

CREATE TABLE bank_decisions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bank text NOT NULL REFERENCES banks (code),
    from_stage text,
    to_stage text NOT NULL,
    decided_on date NOT NULL,
    decided_by bigint REFERENCES operators (id),
    documents text[] NOT NULL DEFAULT '{}',
    note text NOT NULL DEFAULT '',
    ground text,
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX bank_decisions_bank ON bank_decisions (bank, id);

CREATE TABLE spot_checks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bank text NOT NULL REFERENCES banks (code),
    outlet text REFERENCES outlets (code),
    checked_on date NOT NULL,
    findings text NOT NULL CHECK (length(findings) BETWEEN 1 AND 4000),
    satisfactory boolean NOT NULL,
    recorded_by bigint NOT NULL REFERENCES operators (id),
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX spot_checks_bank ON spot_checks (bank, checked_on);

CREATE TABLE satisfaction_results (
    year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    bank text NOT NULL REFERENCES banks (code),
    outlet text NOT NULL DEFAULT '',
    surveyed integer NOT NULL CHECK (surveyed > 0),
    satisfied integer NOT NULL CHECK (satisfied >= 0),
    imported_at timestamptz NOT NULL DEFAULT now(),
    CHECK (satisfied <= surveyed),
    PRIMARY KEY (year, bank, outlet)
);

CREATE TABLE complaints_12345 (
    ticket text PRIMARY KEY CHECK (length(ticket) BETWEEN 1 AND 64),
    received_on date NOT NULL,
    bank text NOT NULL REFERENCES banks (code),
    outlet text REFERENCES outlets (code),
    summary text NOT NULL DEFAULT '',
    imported_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX complaints_12345_bank ON complaints_12345 (bank, received_on);

CREATE TABLE evaluations (
    bank text NOT NULL REFERENCES banks (code),
    year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    cards_issued integer NOT NULL CHECK (cards_issued >= 0),
    satisfaction_percent integer NOT NULL CHECK (satisfaction_percent BETWEEN 0 AND 100),
    complaints integer NOT NULL CHECK (complaints >= 0),
    publicity integer NOT NULL CHECK (publicity BETWEEN 0 AND 100),
    security_rules integer NOT NULL CHECK (security_rules BETWEEN 0 AND 100),
    technical_support integer NOT NULL CHECK (technical_support BETWEEN 0 AND 100),
    scores jsonb NOT NULL,
    total numeric(6, 2) NOT NULL,
    passed boolean NOT NULL,
    rules jsonb NOT NULL,
    evaluated_on date NOT NULL,
    evaluated_by bigint NOT NULL REFERENCES operators (id),
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank, year)
);

CREATE TABLE interviews (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bank text NOT NULL,
    year integer NOT NULL,
    held_on date NOT NULL,
    attendees text NOT NULL CHECK (length(attendees) BETWEEN 1 AND 1000),
    summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 4000),
    recorded_by bigint NOT NULL REFERENCES operators (id),
    at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (bank, year) REFERENCES evaluations (bank, year)
);

CREATE TABLE incidents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bank text NOT NULL REFERENCES banks (code),
    outlet text REFERENCES outlets (code),
    kind text NOT NULL CHECK (kind IN ('device', 'security', 'personal_data', 'service_outage')),
    severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    occurred_at timestamptz NOT NULL,
    reported_at timestamptz NOT NULL,
    closed_at timestamptz,
    resolution text NOT NULL DEFAULT '',
    recorded_by bigint NOT NULL REFERENCES operators (id),
    closed_by bigint REFERENCES operators (id),
    CHECK (reported_at >= occurred_at),
    CHECK (closed_at IS NULL OR closed_at >= occurred_at)
);

CREATE INDEX incidents_open ON incidents (bank) WHERE closed_at IS NULL;

-- Every decision and record of the bureau's side, in one trail (who, what, when, details).
CREATE TABLE oversight_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator bigint REFERENCES operators (id),
    bank text,
    action text NOT NULL,
    subject text NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{}',
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX oversight_log_bank ON oversight_log (bank, id);

-- Personal data sealed by the application (0007): the data keys, each wrapped by the master
-- key, which is never stored here. Photos, card data, job payloads, idempotency answers and
-- home-visit addresses hold sealed values in their own columns (docs/encryption.md).

CREATE TABLE data_keys (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose text NOT NULL CHECK (purpose IN ('data', 'index')),
    wrapped bytea,
    master_key text NOT NULL,
    active_from timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    destroyed_at timestamptz,
    CONSTRAINT data_keys_destroyed_hold_no_secret CHECK ((destroyed_at IS NULL) = (wrapped IS NOT NULL)),
    CONSTRAINT data_keys_destroyed_were_retired CHECK (destroyed_at IS NULL OR retired_at IS NOT NULL)
);


-- Security terminals and PSAM cards (0008): the register of each outlet's security
-- terminals and of each bank's PSAM cards, with every PSAM move, its date and who made it.
-- An agent names its PSAM when it claims; see issuance.services.psams.
CREATE TABLE security_terminals (
    serial text PRIMARY KEY CHECK (serial ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    model text NOT NULL CHECK (length(model) BETWEEN 1 AND 64),
    outlet text NOT NULL REFERENCES outlets (code),
    state text NOT NULL DEFAULT 'in_service'
        CHECK (state IN ('in_service', 'out_of_service', 'retired')),
    registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX security_terminals_outlet ON security_terminals (outlet);

CREATE TABLE psam_cards (
    serial text PRIMARY KEY CHECK (serial ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    bank text NOT NULL REFERENCES banks (code),
    terminal text REFERENCES security_terminals (serial),
    state text NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'installed', 'suspended', 'revoked', 'destroyed')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (state NOT IN ('installed', 'suspended') OR terminal IS NOT NULL)
);

CREATE UNIQUE INDEX psam_cards_one_per_terminal ON psam_cards (terminal)
    WHERE state IN ('installed', 'suspended');

CREATE TABLE psam_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    psam text NOT NULL REFERENCES psam_cards (serial),
    action text NOT NULL,
    from_state text,
    to_state text NOT NULL,
    terminal text,
    operator bigint REFERENCES operators (id),
    actor text NOT NULL,
    note text NOT NULL DEFAULT '',
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX psam_events_psam ON psam_events (psam, id);

-- Blank card bodies (0008). A receipt of a numbered lot at an outlet, a transfer between two
-- outlets of a bank and the destruction of bodies are requests one operator makes and a
-- second, different one confirms (stock_requests); confirming writes the moves. The agent's
-- own reports add a move per body: fed (its FED heartbeat), printed (the job completed),
-- spoiled (a failure that spoiled the body). stock_reconciliations keeps each outlet's day.
CREATE TABLE stock_requests (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('receipt', 'transfer', 'destruction')),
    bank text NOT NULL REFERENCES banks (code),
    outlet text NOT NULL REFERENCES outlets (code),
    to_outlet text REFERENCES outlets (code),
    lot text NOT NULL CHECK (lot ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    note text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'confirmed', 'cancelled')),
    requested_by bigint NOT NULL REFERENCES operators (id),
    requested_at timestamptz NOT NULL DEFAULT now(),
    decided_by bigint REFERENCES operators (id),
    decided_at timestamptz,
    CHECK ((kind = 'transfer') = (to_outlet IS NOT NULL)),
    CHECK (to_outlet IS DISTINCT FROM outlet),
    CONSTRAINT stock_requests_dual_control
        CHECK (state <> 'confirmed' OR decided_by IS DISTINCT FROM requested_by)
);

CREATE UNIQUE INDEX stock_requests_lot_once ON stock_requests (bank, lot)
    WHERE kind = 'receipt' AND state <> 'cancelled';
CREATE INDEX stock_requests_pending ON stock_requests (bank, id) WHERE state = 'pending';

CREATE TABLE stock_moves (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outlet text NOT NULL REFERENCES outlets (code),
    kind text NOT NULL CHECK (kind IN ('received', 'transferred_in', 'transferred_out',
        'destroyed', 'fed', 'printed', 'spoiled')),
    quantity integer NOT NULL CHECK (quantity > 0),
    request bigint REFERENCES stock_requests (id),
    job_id bigint,
    attempt integer,
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX stock_moves_outlet ON stock_moves (outlet, at);
CREATE UNIQUE INDEX stock_moves_job_once ON stock_moves (job_id, kind, attempt)
    WHERE job_id IS NOT NULL;

CREATE TABLE stock_reconciliations (
    outlet text NOT NULL REFERENCES outlets (code),
    day date NOT NULL,
    opening integer NOT NULL,
    received integer NOT NULL,
    issued integer NOT NULL,
    spoiled integer NOT NULL,
    destroyed integer NOT NULL,
    expected integer NOT NULL,
    counted integer NOT NULL CHECK (counted >= 0),
    fed integer NOT NULL,
    exceptions jsonb NOT NULL,
    reconciled_by bigint NOT NULL REFERENCES operators (id),
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (outlet, day)
);
-- Sign-in for people at the pages: one-time sign-in links and browser sessions, each
-- token stored only as its SHA-256 (passwords are the operators' credentials).

CREATE TABLE signin_links (
    token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    operator bigint NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);

CREATE TABLE web_sessions (
    token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    operator bigint NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf text NOT NULL CHECK (length(csrf) BETWEEN 16 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
