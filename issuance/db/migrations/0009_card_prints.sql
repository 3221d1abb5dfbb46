-- Exactly once, under any crash.
--
-- card_prints: one row per attempt of a card job whose agent announced that it was about
-- to print (the heartbeat with step 'printing', sent before the printer is told to print).
-- While a row is unsettled the card may physically exist: its job may not be redriven,
-- cancelled or reordered, and no other attempt may print the same card number. A row is
-- settled by evidence only: the agent's report after the printer answered (completed,
-- or the printer's card counter showed the print never started), a card read from the
-- hopper, or a supervisor's confirmation that no such card exists.
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

-- A card number is printed at most once: one print that may exist or was delivered.
CREATE UNIQUE INDEX card_prints_once ON card_prints (card_number)
    WHERE settled IS NULL OR settled = 'delivered';

-- A spoiled body is recorded once per attempt (one attempt feeds at most one body),
-- however often its report is retried.
ALTER TABLE spoiled_cards ADD COLUMN attempt integer;
CREATE UNIQUE INDEX spoiled_cards_once ON spoiled_cards (job_id, attempt)
    WHERE attempt IS NOT NULL;
