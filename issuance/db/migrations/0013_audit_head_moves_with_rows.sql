-- The audit chain's head moves only for a statement that inserted rows, to the last of them.
--
-- The statement trigger used to update the head from the newest row of the whole trail even for a
-- statement that inserted nothing (an audited read that found no card). Such a statement holds no
-- chain lock: it could take the head's row lock out of turn, and, reading the trail before a
-- concurrent writer committed, try to move the head backwards ("the chain head only moves
-- forward"), which failed the request. Now the head is moved from the statement's own rows, which
-- were numbered under the chain lock that their transaction still holds.
CREATE OR REPLACE FUNCTION audit_chain_advance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- from the statement's own rows, numbered under the chain lock; a statement that inserted no
    -- row (an empty INSERT ... SELECT) leaves the head as it is, without locking it
    UPDATE audit_chain_head SET (last_id, last_hash) = (latest.id, latest.hash)
    FROM (SELECT id, hash FROM inserted ORDER BY id DESC LIMIT 1) AS latest;
    RETURN NULL;
END
$$;

DROP TRIGGER audit_log_head ON audit_log;
CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_advance();
