-- The statements behind the pages: sign-in, sessions, and the read-only views of
-- outlets, queues and banks. Run by issuance.store.pages.PagesStore.

-- name: operator_by_name
SELECT id, name, role, bank, outlet FROM operators WHERE name = $1;

-- name: operator_by_id
SELECT id, name, role, bank, outlet FROM operators WHERE id = $1;

-- name: insert_link
INSERT INTO signin_links (token_sha256, operator, expires_at) VALUES ($1, $2, $3);

-- name: use_link
-- A link works once, before it expires.
UPDATE signin_links SET used_at = now()
WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > now()
RETURNING operator;

-- name: insert_session
INSERT INTO web_sessions (token_sha256, operator, csrf, expires_at) VALUES ($1, $2, $3, $4);

-- name: touch_session
-- The session behind a cookie, if neither its lifetime nor its idle time ($2) has run out;
-- seeing it moves its idle clock.
UPDATE web_sessions s SET seen_at = now()
FROM operators o
WHERE s.token_sha256 = $1 AND o.id = s.operator
  AND s.expires_at > now() AND s.seen_at > now() - $2::interval
RETURNING s.csrf, s.expires_at, o.id, o.name, o.role, o.bank, o.outlet;

-- name: delete_session
DELETE FROM web_sessions WHERE token_sha256 = $1;

-- name: prune_sessions
DELETE FROM web_sessions WHERE expires_at < now() OR seen_at < now() - $1::interval;

-- name: banks
SELECT code, name, institution_code FROM banks ORDER BY code;

-- name: outlets
SELECT code, bank, name, district, address, can_issue_instantly, has_security_terminal,
       psam_serial, open
FROM outlets ORDER BY district, bank, code;

-- name: site_depths
-- Card jobs waiting or being made, per site.
SELECT site, count(*) AS jobs FROM card_jobs
WHERE state IN ('queued', 'running') AND kind = 'card'
GROUP BY site;

-- name: site_made_since
-- Cards each site finished since $1: how many, the first and the last.
SELECT site, count(*) AS made, min(finished_at) AS first, max(finished_at) AS last
FROM card_jobs_history
WHERE outcome = 'succeeded' AND kind = 'card' AND finished_at >= $1
GROUP BY site;

-- name: printers_all
SELECT site, name, status, fault FROM printers ORDER BY site, name;

-- name: jobs_of_site
-- The live jobs of one site (queued, running, in doubt, dead), oldest first.
SELECT j.id, j.kind, j.state, j.step, j.attempts, j.max_attempts, j.enqueued_at,
       j.updated_at, j.lease_owner, j.last_error, c.card_number, c.status AS card_status
FROM card_jobs j LEFT JOIN cards c ON c.job_id = j.id
WHERE j.site = ANY($1::text[])
ORDER BY j.id
LIMIT $2;

-- name: made_today
-- Cards of outlet $1 that became ready since $2.
SELECT c.card_number, c.status, e.at
FROM card_events e JOIN cards c ON c.id = e.card
WHERE e.to_status = 'ready' AND e.at >= $2 AND c.ordered_at_outlet = $1
ORDER BY e.at DESC
LIMIT 200;

-- name: events_of_job_card
SELECT e.action, e.from_status, e.to_status, e.at, e.note
FROM card_events e JOIN cards c ON c.id = e.card
WHERE c.job_id = $1
ORDER BY e.id;

-- name: spoiled_of_job
SELECT printer, reason, at FROM spoiled_cards WHERE job_id = $1 ORDER BY id;

-- name: batches_of_bank
-- The latest batches of bank $1 (every bank when NULL).
SELECT id, bank, site, submitted_by, submitted_at, file_kind, rows_read, accepted, rejected,
       status, finished_at
FROM batches WHERE $1::text IS NULL OR bank = $1
ORDER BY submitted_at DESC
LIMIT $2;


-- name: open_prints_of_job
-- The prints of job $1 whose card may physically exist (no evidence settled them yet).
SELECT attempt, card_number, worker, announced_at FROM card_prints
WHERE job_id = $1 AND settled IS NULL ORDER BY attempt;
