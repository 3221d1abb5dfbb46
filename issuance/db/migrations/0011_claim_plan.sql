-- The claim, as a function whose planner settings make its plan the same on a table with
-- statistics and on one without: a freshly loaded table (before autovacuum has analysed
-- it) would otherwise be read by a bitmap scan and sorted, every queued job of the site at
-- each claim, instead of walking the card_jobs_queued index in order and stopping at the limit.
CREATE FUNCTION card_jobs_claim(
    p_site text, p_capabilities text[], p_limit integer, p_worker text,
    p_lease_seconds double precision, p_now timestamptz
) RETURNS TABLE (
    id bigint, idempotency_key text, kind text, site text, capability text, priority smallint,
    state text, step text, payload text, batch text, attempts integer, max_attempts integer,
    enqueued_at timestamptz, lease_owner text, lease_expires_at timestamptz, last_error text,
    result text
)
LANGUAGE plpgsql
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH picked AS MATERIALIZED (
        SELECT c.id FROM card_jobs c
        WHERE c.state = 'queued' AND c.site = p_site AND c.capability = ANY(p_capabilities)
          AND c.run_after <= coalesce(p_now, now())
        ORDER BY c.priority, c.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE card_jobs AS j
    SET state = 'running', attempts = j.attempts + 1, lease_owner = p_worker,
        lease_expires_at = coalesce(p_now, now()) + make_interval(secs => p_lease_seconds),
        step = 'idle', updated_at = now()
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.id, j.idempotency_key, j.kind, j.site, j.capability, j.priority, j.state, j.step,
              j.payload::text, j.batch, j.attempts, j.max_attempts, j.enqueued_at,
              j.lease_owner, j.lease_expires_at, j.last_error, NULL::text;
END
$$;
