-- The blind-index key can be rotated: several index keys, each with its dates; a look-up
-- searches under every one not retired, writes use the newest (see docs/encryption.md).
DROP INDEX data_keys_one_index_key;

-- Retired data keys can be destroyed once no value is sealed under them: the row stays (its
-- id, dates and who wrapped it), its wrapped secret is gone. `sscard keys destroy` refuses
-- while any value still names the key (see docs/encryption.md).

ALTER TABLE data_keys ALTER COLUMN wrapped DROP NOT NULL;
ALTER TABLE data_keys ADD COLUMN destroyed_at timestamptz;
ALTER TABLE data_keys ADD CONSTRAINT data_keys_destroyed_hold_no_secret
    CHECK ((destroyed_at IS NULL) = (wrapped IS NOT NULL));
ALTER TABLE data_keys ADD CONSTRAINT data_keys_destroyed_were_retired
    CHECK (destroyed_at IS NULL OR retired_at IS NOT NULL);
