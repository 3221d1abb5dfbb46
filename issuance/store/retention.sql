-- The retention rules (issuance.services.retention): each kind of personal data erased once
-- it is past its time, $1 the cut-off and $2 the most rows one statement takes. Each
-- `count_` statement counts what its `erase_` statement would take (for --dry-run).

-- name: count_ended_cards
SELECT count(*) FROM cards
WHERE status IN ('cancelled', 'superseded', 'spoiled') AND updated_at < $1
  AND card_data <> '{}'::jsonb;

-- name: erase_ended_cards
-- The card data of cards ended before $1, and their photos once no card keeps them.
WITH due AS (
    SELECT id FROM cards
    WHERE status IN ('cancelled', 'superseded', 'spoiled') AND updated_at < $1
      AND card_data <> '{}'::jsonb
    ORDER BY id LIMIT $2
    FOR UPDATE SKIP LOCKED
),
erased AS (
    UPDATE cards SET card_data = '{}'::jsonb FROM due WHERE cards.id = due.id
    RETURNING cards.id, cards.photo
),
photos AS (
    UPDATE holder_photos p SET image = ''::bytea
    WHERE p.id IN (SELECT photo FROM erased)
      AND NOT EXISTS (SELECT 1 FROM cards c
                      WHERE c.photo = p.id AND c.id NOT IN (SELECT id FROM erased)
                        AND c.card_data <> '{}'::jsonb)
    RETURNING p.id
)
SELECT count(*) FROM erased;

-- name: count_holders
SELECT count(*) FROM holders h
WHERE h.anonymised_at IS NULL AND h.updated_at < $1
  AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.holder = h.id
                  AND (c.status NOT IN ('cancelled', 'superseded', 'spoiled')
                       OR c.updated_at >= $1));

-- name: erase_holders
-- Holders none of whose cards is live or ended on or after $1: their citizen ID (and its
-- blind index), name, phone and address are erased, and the addresses of their home visits.
WITH due AS (
    SELECT h.id FROM holders h
    WHERE h.anonymised_at IS NULL AND h.updated_at < $1
      AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.holder = h.id
                      AND (c.status NOT IN ('cancelled', 'superseded', 'spoiled')
                           OR c.updated_at >= $1))
    ORDER BY h.id LIMIT $2
    FOR UPDATE OF h SKIP LOCKED
),
visits AS (
    UPDATE home_visits v SET address = '' FROM due WHERE v.holder = due.id RETURNING v.id
),
erased AS (
    UPDATE holders h
    SET citizen_id_index = NULL, sealed = NULL, sealed_address = NULL, citizen_id = NULL,
        name = NULL, phone = '', address = '', anonymised_at = now()
    FROM due WHERE h.id = due.id
    RETURNING h.id
)
SELECT count(*) FROM erased;

-- name: count_job_payloads
SELECT count(*) FROM card_jobs_history WHERE finished_at < $1 AND payload <> '{}'::jsonb;

-- name: erase_job_payloads
-- The payloads (card data) of jobs finished before $1.
WITH due AS (
    SELECT id FROM card_jobs_history
    WHERE finished_at < $1 AND payload <> '{}'::jsonb
    ORDER BY id LIMIT $2
    FOR UPDATE SKIP LOCKED
),
erased AS (
    UPDATE card_jobs_history j SET payload = '{}'::jsonb FROM due WHERE j.id = due.id
    RETURNING j.id
)
SELECT count(*) FROM erased;

-- name: count_batch_cards
SELECT count(*) FROM batch_cards bc
JOIN batches b ON b.id = bc.batch
JOIN cards c ON c.id = bc.card
WHERE b.status = 'complete' AND b.finished_at < $1
  AND c.status IN ('requested', 'in_production', 'spoiled', 'cancelled')
  AND c.card_data <> '{}'::jsonb;

-- name: erase_batch_cards
-- The card data and photos of the cards of batches finished before $1 that were never made.
WITH due AS (
    SELECT c.id FROM batch_cards bc
    JOIN batches b ON b.id = bc.batch
    JOIN cards c ON c.id = bc.card
    WHERE b.status = 'complete' AND b.finished_at < $1
      AND c.status IN ('requested', 'in_production', 'spoiled', 'cancelled')
      AND c.card_data <> '{}'::jsonb
    ORDER BY c.id LIMIT $2
    FOR UPDATE OF c SKIP LOCKED
),
erased AS (
    UPDATE cards SET card_data = '{}'::jsonb FROM due WHERE cards.id = due.id
    RETURNING cards.id, cards.photo
),
photos AS (
    UPDATE holder_photos p SET image = ''::bytea
    WHERE p.id IN (SELECT photo FROM erased)
      AND NOT EXISTS (SELECT 1 FROM cards c
                      WHERE c.photo = p.id AND c.id NOT IN (SELECT id FROM erased)
                        AND c.card_data <> '{}'::jsonb)
    RETURNING p.id
)
SELECT count(*) FROM erased;

-- name: count_sign_in_attempts
SELECT count(*) FROM sign_in_attempts WHERE at < $1;

-- name: erase_sign_in_attempts
-- Sign-in attempts older than the failure window ($1): they count towards no limit.
WITH due AS (
    SELECT id FROM sign_in_attempts WHERE at < $1 ORDER BY id LIMIT $2
),
erased AS (
    DELETE FROM sign_in_attempts a USING due WHERE a.id = due.id RETURNING a.id
)
SELECT count(*) FROM erased;
