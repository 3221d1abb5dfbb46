-- Audit records of requests are chained at commit (audit_pending).
--
-- The chain lock was held from a request's first audit record to its commit, across its other
-- statements and round trips; under load every audited request queued behind it (measured at 600
-- requests/s: most waiting backends were waiting for it, the holder often idle in transaction).

-- Audit records of a request are written to audit_pending and chained into audit_log when their
-- transaction commits (a deferred constraint trigger), so the chain lock is held from the commit's
-- start to its end rather than from the first audit record to the commit, across the request's
-- other statements and the client's round trips. A pending row lives only inside the transaction
-- that wrote it (moved and deleted at its commit, gone with its rollback), so the table is
-- UNLOGGED: nothing in it has to survive a crash.
CREATE UNLOGGED TABLE audit_pending (
    n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator bigint NOT NULL,
    bank text,
    outlet text,
    purpose text NOT NULL,
    holder bigint,
    action text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    card bigint,
    detail text NOT NULL DEFAULT ''
);

-- SECURITY DEFINER: the service's role inserts pending records but cannot delete them.
CREATE FUNCTION audit_pending_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM audit_pending WHERE n = NEW.n;
    INSERT INTO audit_log (operator, bank, outlet, purpose, holder, action, at, card, detail)
    VALUES (NEW.operator, NEW.bank, NEW.outlet, NEW.purpose, NEW.holder, NEW.action, NEW.at,
            NEW.card, NEW.detail);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER audit_pending_chain AFTER INSERT ON audit_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit_pending_chain();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_pending FROM PUBLIC;
