-- Re-sealing personal data under the active data key (issuance.services.keys), a batch of
-- rows at a time, in id order. Each read locks its batch; each write takes the batch back.

-- name: count_holders
SELECT count(*) FROM holders;

-- name: holders_after
SELECT id, citizen_id, name, phone, address, sealed, sealed_address, anonymised_at,
       citizen_id_index
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

-- name: count_totp
SELECT count(*) FROM operators WHERE totp_secret IS NOT NULL;

-- name: totp_after
SELECT id, totp_secret AS value FROM operators
WHERE id > $1 AND totp_secret IS NOT NULL ORDER BY id LIMIT $2
FOR UPDATE;

-- name: reseal_totp
UPDATE operators o SET totp_secret = t.value
FROM unnest($1::bigint[], $2::text[]) AS t(id, value) WHERE o.id = t.id;

-- name: count_plain_holders
-- Holders written before 0007 and not sealed yet.
SELECT count(*) FROM holders WHERE sealed IS NULL AND anonymised_at IS NULL;

-- name: retire_data_keys
-- Keys of key $1's purpose older than it, which no value uses once the walk is done.
UPDATE data_keys SET retired_at = now()
WHERE purpose = (SELECT purpose FROM data_keys WHERE id = $1) AND id < $1 AND retired_at IS NULL
RETURNING id;

-- name: key_table
SELECT id, purpose, active_from, created_at, retired_at, destroyed_at FROM data_keys ORDER BY id;

-- name: lock_key
SELECT id, purpose, retired_at, destroyed_at FROM data_keys WHERE id = $1 FOR UPDATE;

-- name: values_per_key
-- How many sealed values name each data key (its id is bytes 4-7 of the sealed value).
WITH sealed (value) AS (
    SELECT sealed FROM holders WHERE sealed IS NOT NULL
    UNION ALL SELECT sealed_address FROM holders WHERE sealed_address IS NOT NULL
    UNION ALL SELECT image FROM holder_photos
    UNION ALL SELECT decode(card_data ->> 'sealed', 'base64') FROM cards WHERE card_data ? 'sealed'
    UNION ALL SELECT decode(payload ->> 'sealed', 'base64') FROM card_jobs WHERE payload ? 'sealed'
    UNION ALL SELECT decode(payload ->> 'sealed', 'base64') FROM card_jobs_history
        WHERE payload ? 'sealed'
    UNION ALL SELECT body FROM idempotency WHERE body IS NOT NULL
    UNION ALL SELECT decode(substr(address, 8), 'base64') FROM home_visits
        WHERE address LIKE 'sealed:%'
    UNION ALL SELECT decode(substr(totp_secret, 8), 'base64') FROM operators
        WHERE totp_secret LIKE 'sealed:%'
)
SELECT ('x' || encode(substr(value, 4, 4), 'hex'))::bit(32)::int AS key_id, count(*) AS n
FROM sealed WHERE substr(value, 1, 3) = '\x534b01'::bytea AND length(value) >= 35
GROUP BY 1;

-- name: destroy_key
UPDATE data_keys SET wrapped = NULL, destroyed_at = now() WHERE id = $1 RETURNING destroyed_at;
