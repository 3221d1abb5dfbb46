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
