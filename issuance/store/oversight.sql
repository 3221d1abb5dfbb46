-- The bureau's oversight statements (banks' lifecycle, outlet filings, evaluation,
-- incidents, home visits, the public lists), run by issuance.store.oversight.OversightStore.

-- name: bank
SELECT code, name, institution_code, stage, registered_as_existing, pboc_review_ref,
       pboc_reviewed_on, remote_activation_committed, exit_ground, created_at
FROM banks WHERE code = $1;

-- name: bank_for_update
SELECT code, name, institution_code, stage, registered_as_existing, pboc_review_ref,
       pboc_reviewed_on, remote_activation_committed, exit_ground, created_at
FROM banks WHERE code = $1
FOR UPDATE;

-- name: banks
SELECT code, name, institution_code, stage, registered_as_existing, pboc_review_ref,
       pboc_reviewed_on, remote_activation_committed, exit_ground, created_at
FROM banks ORDER BY code;

-- name: set_bank_stage
UPDATE banks SET stage = $2, exit_ground = coalesce($3, exit_ground) WHERE code = $1;

-- name: set_bank_conditions
UPDATE banks SET pboc_review_ref = $2, pboc_reviewed_on = $3, remote_activation_committed = $4
WHERE code = $1;

-- name: insert_decision
INSERT INTO bank_decisions (bank, from_stage, to_stage, decided_on, decided_by, documents, note,
                            ground)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id;

-- name: decisions_of_bank
SELECT id, bank, from_stage, to_stage, decided_on, decided_by, documents, note, ground, at
FROM bank_decisions WHERE bank = $1 ORDER BY id;

-- name: order_gate
-- What decides whether bank $1 may order cards now, at outlet $2 (NULL: none).
SELECT b.stage, (SELECT o.activation_only FROM outlets o WHERE o.code = $2) AS activation_only
FROM banks b WHERE b.code = $1;

-- name: insert_log
INSERT INTO oversight_log (operator, bank, action, subject, details)
VALUES ($1, $2, $3, $4, $5::jsonb);

-- name: log
SELECT id, operator, bank, action, subject, details::text, at
FROM oversight_log WHERE ($1::text IS NULL OR bank = $1) ORDER BY id DESC LIMIT $2;

-- name: outlets_of_bank
SELECT code, bank, name, district, address, can_issue_instantly, has_security_terminal,
       psam_serial, open, opening_hours, services, activation_only
FROM outlets WHERE bank = $1 ORDER BY code;

-- name: outlet_for_update
SELECT code, bank, name, district, address, can_issue_instantly, has_security_terminal,
       psam_serial, open, opening_hours, services, activation_only
FROM outlets WHERE code = $1
FOR UPDATE;

-- name: insert_outlet
INSERT INTO outlets (code, bank, name, district, address, can_issue_instantly,
                     has_security_terminal, psam_serial, open, opening_hours, services,
                     activation_only)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: update_outlet
UPDATE outlets
SET name = $2, district = $3, address = $4, can_issue_instantly = $5,
    has_security_terminal = $6, psam_serial = $7, open = $8, opening_hours = $9,
    services = $10, activation_only = $11
WHERE code = $1;

-- name: insert_filing
INSERT INTO outlet_filings (outlet, bank, kind, filed_on, outlet_as_filed, status, filed_by,
                            instant_after, open_after, below_instant_share)
VALUES ($1, $2, $3, $4, $5::jsonb, 'filed', $6, $7, $8, $9)
RETURNING id;

-- name: filing_for_update
SELECT id, outlet, bank, kind, filed_on, outlet_as_filed::text, at, status, filed_by,
       decided_by, decided_at, decision_note, instant_after, open_after, below_instant_share
FROM outlet_filings WHERE id = $1
FOR UPDATE;

-- name: filings
-- Filings, newest first, of bank $1, outlet $2 and status $3 (NULL: any).
SELECT id, outlet, bank, kind, filed_on, outlet_as_filed::text, at, status, filed_by,
       decided_by, decided_at, decision_note, instant_after, open_after, below_instant_share
FROM outlet_filings
WHERE ($1::text IS NULL OR bank = $1) AND ($2::text IS NULL OR outlet = $2)
  AND ($3::text IS NULL OR status = $3)
ORDER BY id DESC LIMIT 500;

-- name: pending_filing_of_outlet
SELECT id FROM outlet_filings WHERE outlet = $1 AND status = 'filed' LIMIT 1;

-- name: decide_filing
UPDATE outlet_filings
SET status = $2, decided_by = $3, decided_at = now(), decision_note = $4, instant_after = $5,
    open_after = $6, below_instant_share = $7
WHERE id = $1;

-- name: public_outlets
-- The open outlets of the banks on the public list.
SELECT o.code, o.bank, o.name, o.district, o.address, o.opening_hours, o.services,
       o.can_issue_instantly, o.activation_only
FROM outlets o JOIN banks b ON b.code = o.bank
WHERE o.open AND b.stage = ANY($1::text[])
ORDER BY o.bank, o.code;

-- name: insert_spot_check
INSERT INTO spot_checks (bank, outlet, checked_on, findings, satisfactory, recorded_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: spot_checks
SELECT id, bank, outlet, checked_on, findings, satisfactory, recorded_by, at
FROM spot_checks WHERE ($1::text IS NULL OR bank = $1) ORDER BY checked_on DESC, id DESC;

-- name: existing_tickets
SELECT ticket FROM complaints_12345 WHERE ticket = ANY($1::text[]);

-- name: insert_complaints
INSERT INTO complaints_12345 (ticket, received_on, bank, outlet, summary)
SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[]);

-- name: upsert_satisfaction
INSERT INTO satisfaction_results (year, bank, outlet, surveyed, satisfied)
SELECT * FROM unnest($1::integer[], $2::text[], $3::text[], $4::integer[], $5::integer[])
ON CONFLICT (year, bank, outlet)
DO UPDATE SET surveyed = excluded.surveyed, satisfied = excluded.satisfied, imported_at = now();

-- name: known_outlets
SELECT code, bank FROM outlets WHERE code = ANY($1::text[]);

-- name: cards_issued
-- Cards of bank $1 handed over to their holders in [$2, $3).
SELECT count(*) FROM card_events e JOIN cards c ON c.id = e.card
WHERE c.bank = $1 AND e.action = 'hand_over' AND e.at >= $2 AND e.at < $3;

-- name: satisfaction
SELECT coalesce(sum(surveyed), 0) AS surveyed, coalesce(sum(satisfied), 0) AS satisfied
FROM satisfaction_results WHERE bank = $1 AND year = $2;

-- name: complaints
SELECT count(*) FROM complaints_12345
WHERE bank = $1 AND received_on >= $2 AND received_on < $3;

-- name: insert_evaluation
INSERT INTO evaluations (bank, year, cards_issued, satisfaction_percent, complaints, publicity,
                         security_rules, technical_support, scores, total, passed, rules,
                         evaluated_on, evaluated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12::jsonb, $13, $14)
ON CONFLICT (bank, year) DO NOTHING
RETURNING bank;

-- name: evaluations
SELECT bank, year, cards_issued, satisfaction_percent, complaints, publicity, security_rules,
       technical_support, scores::text, total, passed, rules::text, evaluated_on, evaluated_by,
       (SELECT count(*) FROM interviews i WHERE i.bank = e.bank AND i.year = e.year)
           AS interviews
FROM evaluations e
WHERE ($1::text IS NULL OR bank = $1) AND ($2::integer IS NULL OR year = $2)
ORDER BY bank, year;

-- name: insert_interview
INSERT INTO interviews (bank, year, held_on, attendees, summary, recorded_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: interviews
SELECT id, bank, year, held_on, attendees, summary, recorded_by, at
FROM interviews WHERE ($1::text IS NULL OR bank = $1) ORDER BY held_on, id;

-- name: insert_incident
INSERT INTO incidents (bank, outlet, kind, severity, description, occurred_at, reported_at,
                       recorded_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id;

-- name: close_incident
UPDATE incidents SET closed_at = $2, resolution = $3, closed_by = $4
WHERE id = $1 AND closed_at IS NULL
RETURNING id;

-- name: incident
SELECT id, bank, outlet, kind, severity, description, occurred_at, reported_at, closed_at,
       resolution, recorded_by, closed_by
FROM incidents WHERE id = $1;

-- name: incidents
SELECT id, bank, outlet, kind, severity, description, occurred_at, reported_at, closed_at,
       resolution, recorded_by, closed_by
FROM incidents
WHERE ($1::text IS NULL OR bank = $1) AND (NOT $2::boolean OR closed_at IS NULL)
ORDER BY occurred_at DESC, id DESC LIMIT 500;

-- name: insert_visit
INSERT INTO home_visits (holder, card, outlet, appointment_at, address, job_id, operator, service)
VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)
RETURNING id;

-- name: visits
SELECT v.id, o.bank, v.outlet, v.service, v.appointment_at, v.address, v.status, v.outcome,
       c.card_number, v.job_id, v.created_at, v.updated_at
FROM home_visits v JOIN outlets o ON o.code = v.outlet JOIN cards c ON c.id = v.card
WHERE ($1::text IS NULL OR o.bank = $1) AND ($2::text IS NULL OR v.status = $2)
ORDER BY v.appointment_at, v.id LIMIT 500;

-- name: visit_for_update
SELECT v.id, o.bank, v.status FROM home_visits v JOIN outlets o ON o.code = v.outlet
WHERE v.id = $1
FOR UPDATE OF v;

-- name: set_visit_status
UPDATE home_visits SET status = $2, outcome = $3, updated_at = now() WHERE id = $1;

-- name: operator_by_name
SELECT id, name, role, bank, outlet FROM operators WHERE name = $1;
