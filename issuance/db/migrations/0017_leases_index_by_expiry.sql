-- The reaper's index keyed on the lease alone.
--
-- card_jobs_leases was partial on state = 'running'. Every statement that finishes or extends
-- a lease (complete, heartbeat, fail) names its jobs by id and also says state = 'running',
-- so the planner could read that index instead of the primary key; on a table without
-- statistics it did, through a bitmap scan that visits every running entry, dead ones
-- included, to find the 200 it wants. A queue's completion cost then grew with the number of
-- jobs it had finished since the last vacuum (5 µs a job on a fresh table, 16-29 µs a few
-- seconds on). Partial on lease_expires_at IS NOT NULL, the index holds the same entries
-- (a lease is set exactly while a job runs), the reaper's expiry range still uses it, and
-- no statement that names jobs by id can.
DROP INDEX card_jobs_leases;
CREATE INDEX card_jobs_leases ON card_jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
