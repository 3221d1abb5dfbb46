-- Re-sealing personal data under the active data key (issuance.services.keys), a batch of
-- rows at a time, in id order. Each read locks its batch; each write takes the batch back.

-- name: count_holders
SELECT count(*) FROM holders;

-- name: holders_after
SELECT id, citizen_id, name, phone, address, sealed, sealed_address, anonymised_at
FROM holders WHERE id > $1 ORDER BY id LIMIT $2
FOR UPDATE;

-- name: reseal_holders
UPDATE holders h
SET citizen_id_index = t.citizen_id_index, sealed = t.sealed, sealed_address = t.sealed_address,
    citizen_id = NULL, name = NULL, phone = '', address = ''
FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bytea[])
    AS t(id, citizen_id_index, sealed, sealed_address)
WHERE h.id = t.id;

-- name: count_photos
SELECT count(*) FROM holder_photos;

-- name: photos_after
SELECT id, image AS value FROM holder_photos WHERE id > $1 ORDER BY id LIMIT $2
FOR UPDATE;

-- name: reseal_photos
UPDATE holder_photos p SET image = t.value
FROM unnest($1::bigint[], $2::bytea[]) AS t(id, value) WHERE p.id = t.id;

-- name: count_cards
SELECT count(*) FROM cards;

-- name: cards_after
SELECT id, card_data::text AS value FROM cards WHERE id > $1 ORDER BY id LIMIT $2
FOR UPDATE;

-- name: reseal_cards
UPDATE cards c SET card_data = t.value::jsonb
FROM unnest($1::bigint[], $2::text[]) AS t(id, value) WHERE c.id = t.id;

-- name: count_jobs
SELECT count(*) FROM card_jobs;

-- name: jobs_after
SELECT id, payload::text AS value FROM card_jobs WHERE id > $1 ORDER BY id LIMIT $2
FOR UPDATE;

-- name: reseal_jobs
UPDATE card_jobs j SET payload = t.value::jsonb
FROM unnest($1::bigint[], $2::text[]) AS t(id, value) WHERE j.id = t.id;

-- name: count_history
SELECT count(*) FROM card_jobs_history;

-- name: history_after
SELECT id, payload::text AS value FROM card_jobs_history WHERE id > $1 ORDER BY id LIMIT $2
FOR UPDATE;

-- name: reseal_history
UPDATE card_jobs_history j SET payload = t.value::jsonb
FROM unnest($1::bigint[], $2::text[]) AS t(id, value) WHERE j.id = t.id;

-- name: count_visits
SELECT count(*) FROM home_visits;

-- name: visits_after
SELECT id, address AS value FROM home_visits WHERE id > $1 ORDER BY id LIMIT $2
FOR UPDATE;

-- name: reseal_visits
UPDATE home_visits v SET address = t.value
FROM unnest($1::bigint[], $2::text[]) AS t(id, value) WHERE v.id = t.id;

-- name: count_answers
SELECT count(*) FROM idempotency WHERE body IS NOT NULL;

-- name: answers_after
-- Keyset over (operator, key), the table's primary key.
SELECT operator, key, body AS value FROM idempotency
WHERE (operator, key) > ($1, $2) AND body IS NOT NULL
ORDER BY operator, key LIMIT $3
FOR UPDATE;

-- name: reseal_answers
UPDATE idempotency i SET body = t.value
FROM unnest($1::bigint[], $2::text[], $3::bytea[]) AS t(operator, key, value)
WHERE i.operator = t.operator AND i.key = t.key;

-- name: count_plain_holders
-- Holders written before 0007 and not sealed yet.
SELECT count(*) FROM holders WHERE sealed IS NULL AND anonymised_at IS NULL;

-- name: retire_data_keys
-- Data keys older than key $1, which no value uses once the walk is done.
UPDATE data_keys SET retired_at = now()
WHERE purpose = 'data' AND id < $1 AND retired_at IS NULL
RETURNING id;
