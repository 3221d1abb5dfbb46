-- 0008: an audit trail that can be trusted; operators' tokens, sign-in and second factor.

ALTER TABLE audit_log ALTER COLUMN id DROP IDENTITY;
ALTER TABLE audit_log ALTER COLUMN holder DROP NOT NULL;
ALTER TABLE audit_log ADD COLUMN card bigint;
ALTER TABLE audit_log ADD COLUMN detail text NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN prev_hash bytea;
ALTER TABLE audit_log ADD COLUMN hash bytea;

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
    -- a statement that inserted no row (an empty INSERT ... SELECT) leaves the head as it is
    UPDATE audit_chain_head SET (last_id, last_hash) = (latest.id, latest.hash)
    FROM (SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1) AS latest;
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


-- Chain the rows written before 0008, in id order.
DO $$
DECLARE
    r audit_log;
    prev bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        r.prev_hash := prev;
        r.hash := sha256(convert_to(audit_canonical(r), 'UTF8'));
        UPDATE audit_log SET prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id;
        prev := r.hash;
    END LOOP;
END
$$;

SELECT setval('audit_log_seq', max(id)) FROM audit_log HAVING max(id) IS NOT NULL;
INSERT INTO audit_chain_head (last_id, last_hash)
SELECT coalesce(max(id), 0), coalesce((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
FROM audit_log;

ALTER TABLE audit_log ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE audit_log ALTER COLUMN hash SET NOT NULL;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_prev_hash_length CHECK (length(prev_hash) = 32);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_hash_length CHECK (length(hash) = 32);

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain();
CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log
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

INSERT INTO operator_tokens (operator, token_sha256, via, expires_at)
SELECT id, token_sha256, 'issued', now() + interval '90 days' FROM operators;

ALTER TABLE operators DROP COLUMN token_sha256;
ALTER TABLE operators ADD COLUMN password_scrypt text;
ALTER TABLE operators ADD COLUMN totp_secret text;
ALTER TABLE operators ADD COLUMN totp_confirmed boolean NOT NULL DEFAULT false;
ALTER TABLE operators ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0;

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
