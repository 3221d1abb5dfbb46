-- Personal data sealed by the application (issuance.vault): the data keys, wrapped by a
-- master key that is never stored here; holders found by a keyed blind index of the citizen
-- ID. The plain columns stay for rows written before this migration: `sscard keys
-- encrypt-existing` seals them and empties the plain columns (a migration cannot: the key
-- is not in the database). Photos, card data, job payloads, idempotency answers and home
-- visit addresses keep their columns and hold sealed values (see docs/encryption.md).

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

ALTER TABLE holders ALTER COLUMN citizen_id DROP NOT NULL;
ALTER TABLE holders ALTER COLUMN name DROP NOT NULL;
ALTER TABLE holders ADD COLUMN citizen_id_index bytea;
ALTER TABLE holders ADD COLUMN sealed bytea;
ALTER TABLE holders ADD COLUMN sealed_address bytea;
ALTER TABLE holders ADD COLUMN anonymised_at timestamptz;
ALTER TABLE holders ADD CONSTRAINT holders_sealed_or_plain
    CHECK (sealed IS NOT NULL OR citizen_id IS NOT NULL OR anonymised_at IS NOT NULL);
CREATE UNIQUE INDEX holders_citizen_id_index ON holders (citizen_id_index);
