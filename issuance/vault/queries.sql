-- The data keys (issuance.vault.vault.Vault): each wrapped by the master key, never stored plain.

-- name: data_keys
-- The keys a process can use: a destroyed key has no secret left.
SELECT id, purpose, wrapped, master_key, active_from, retired_at FROM data_keys
WHERE destroyed_at IS NULL ORDER BY id;

-- name: lock_data_keys
-- One process at a time creates data keys (the first start of several API workers).
SELECT pg_advisory_xact_lock(hashtext('sscard.data_keys'));

-- name: next_data_key_id
SELECT nextval(pg_get_serial_sequence('data_keys', 'id'));

-- name: insert_data_key
INSERT INTO data_keys (id, purpose, wrapped, master_key, active_from)
OVERRIDING SYSTEM VALUE
VALUES ($1, $2, $3, $4, now() + $5::interval)
RETURNING active_from;
