-- The bureau's side of the rules: a bank's lifecycle and the decisions that move it, the
-- conditions of 第四条, outlet filings the bureau acknowledges or returns (第七条), spot
-- checks, the yearly evaluation with its imported inputs, interviews (第九条), incidents
-- (第五条(八)), a bureau administrator role, and home visits for every counter service.
--
-- Banks that existed before this migration were issuing cards: they become active and are
-- marked as registered as existing cooperating banks.

ALTER TABLE banks ADD COLUMN stage text NOT NULL DEFAULT 'active'
    CHECK (stage IN ('applied', 'under_review', 'approved', 'rejected', 'system_integration',
                     'acceptance', 'agreement_signed', 'published', 'active', 'suspended',
                     'exited'));
ALTER TABLE banks ALTER COLUMN stage DROP DEFAULT;
ALTER TABLE banks ADD COLUMN registered_as_existing boolean NOT NULL DEFAULT true;
ALTER TABLE banks ALTER COLUMN registered_as_existing SET DEFAULT false;
ALTER TABLE banks ADD COLUMN pboc_review_ref text CHECK (length(pboc_review_ref) BETWEEN 1 AND 200);
ALTER TABLE banks ADD COLUMN pboc_reviewed_on date;
ALTER TABLE banks ADD COLUMN remote_activation_committed boolean NOT NULL DEFAULT false;
ALTER TABLE banks ADD COLUMN exit_ground text;

ALTER TABLE operators DROP CONSTRAINT operators_role_check;
ALTER TABLE operators ADD CONSTRAINT operators_role_check
    CHECK (role IN ('clerk', 'supervisor', 'bank_admin', 'bureau_auditor', 'bureau_admin', 'agent'));
ALTER TABLE operators DROP CONSTRAINT operators_check;
ALTER TABLE operators ADD CONSTRAINT operators_check
    CHECK (role IN ('bureau_auditor', 'bureau_admin') OR bank IS NOT NULL);

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

ALTER TABLE outlets ADD COLUMN opening_hours text NOT NULL DEFAULT '';
ALTER TABLE outlets ADD COLUMN services text[] NOT NULL DEFAULT '{}';
ALTER TABLE outlets ADD COLUMN activation_only boolean NOT NULL DEFAULT false;
ALTER TABLE outlets DROP CONSTRAINT outlets_district_check;
ALTER TABLE outlets ADD CONSTRAINT outlets_district_check
    CHECK (district ~ '^[0-9]{6}$' AND (activation_only OR district ~ '^1101[0-9]{2}$'));
ALTER TABLE outlets ADD CONSTRAINT outlets_activation_only_check
    CHECK (NOT (activation_only AND can_issue_instantly));

ALTER TABLE outlet_filings DROP CONSTRAINT outlet_filings_outlet_fkey;
ALTER TABLE outlet_filings ADD COLUMN status text NOT NULL DEFAULT 'acknowledged'
    CHECK (status IN ('filed', 'acknowledged', 'returned'));
ALTER TABLE outlet_filings ADD COLUMN filed_by bigint REFERENCES operators (id);
ALTER TABLE outlet_filings ADD COLUMN decided_by bigint REFERENCES operators (id);
ALTER TABLE outlet_filings ADD COLUMN decided_at timestamptz;
ALTER TABLE outlet_filings ADD COLUMN decision_note text NOT NULL DEFAULT '';
ALTER TABLE outlet_filings ADD COLUMN instant_after integer;
ALTER TABLE outlet_filings ADD COLUMN open_after integer;
ALTER TABLE outlet_filings ADD COLUMN below_instant_share boolean NOT NULL DEFAULT false;

CREATE INDEX outlet_filings_outlet ON outlet_filings (outlet, id);
CREATE INDEX outlet_filings_pending ON outlet_filings (bank) WHERE status = 'filed';

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

ALTER TABLE home_visits ALTER COLUMN job_id DROP NOT NULL;
ALTER TABLE home_visits ADD COLUMN service text NOT NULL DEFAULT 'apply';
ALTER TABLE home_visits ADD COLUMN status text NOT NULL DEFAULT 'scheduled'
    CHECK (status IN ('scheduled', 'done', 'cancelled', 'missed'));
ALTER TABLE home_visits ADD COLUMN outcome text NOT NULL DEFAULT '';
ALTER TABLE home_visits ADD COLUMN updated_at timestamptz;

CREATE INDEX home_visits_outlet ON home_visits (outlet, appointment_at);

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
