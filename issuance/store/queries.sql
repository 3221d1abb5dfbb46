-- The counter service's statements, run by issuance.store.store.Store.

-- name: insert_bank
-- The institution number is the region code $3 and the next serial; $4 is its lifecycle
-- stage, $5 whether it is registered as an existing cooperating bank.
INSERT INTO banks (code, name, institution_code, stage, registered_as_existing)
VALUES ($1, $2, $3 || lpad(nextval('bank_institution_seq')::text, 6, '0'), $4, $5)
ON CONFLICT (code) DO NOTHING
RETURNING institution_code;

-- name: get_bank
SELECT code, name, institution_code FROM banks WHERE code = $1;

-- name: insert_outlet
INSERT INTO outlets (code, bank, name, district, address, can_issue_instantly,
                     has_security_terminal, psam_serial)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (code) DO NOTHING
RETURNING code;

-- name: get_outlet
-- The outlet, with what decides whether it takes orders (its bank's stage, activation only),
-- so that a counter service reads both in one statement.
SELECT o.code, o.bank, o.name, o.district, o.address, o.can_issue_instantly,
       o.has_security_terminal, o.psam_serial, o.open, o.activation_only,
       b.stage AS bank_stage
FROM outlets o JOIN banks b ON b.code = o.bank WHERE o.code = $1;

-- name: insert_filing
INSERT INTO outlet_filings (outlet, bank, kind, filed_on, outlet_as_filed)
VALUES ($1, $2, $3, $4, $5::jsonb);

-- name: insert_operator
INSERT INTO operators (name, role, bank, outlet) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO NOTHING
RETURNING id;

-- name: operator_by_token
-- The operator behind a live token (not revoked, not expired).
SELECT o.id, o.name, o.role, o.bank, o.outlet, t.id AS token_id, t.expires_at
FROM operator_tokens t JOIN operators o ON o.id = t.operator
WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND t.expires_at > now();

-- name: operator_by_name
SELECT id, name, role, bank, outlet, password_scrypt, totp_secret, totp_confirmed,
       totp_last_step
FROM operators WHERE name = $1;

-- name: insert_token
-- A token for operator $1 (digest $2, issued via $3) that lives $4.
INSERT INTO operator_tokens (operator, token_sha256, via, expires_at)
VALUES ($1, $2, $3, now() + $4::interval)
RETURNING id, expires_at;

-- name: revoke_token
-- Revoke token $1; the cache of every server process is told (channel sscard_tokens).
WITH revoked AS (
    UPDATE operator_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
    RETURNING id
)
SELECT count(*) AS n, pg_notify('sscard_tokens', 'revoked') FROM revoked;

-- name: revoke_tokens_of_operator
WITH revoked AS (
    UPDATE operator_tokens SET revoked_at = now() WHERE operator = $1 AND revoked_at IS NULL
    RETURNING id
)
SELECT count(*) AS n, pg_notify('sscard_tokens', 'revoked') FROM revoked;

-- name: set_password
UPDATE operators SET password_scrypt = $2 WHERE id = $1;

-- name: set_totp
-- Enrol (secret $2, confirmed $3) or remove (NULL, false) operator $1's second factor.
UPDATE operators SET totp_secret = $2, totp_confirmed = $3, totp_last_step = 0 WHERE id = $1;

-- name: use_totp_step
-- Record TOTP time step $2 as used by operator $1; no row if it (or a later one) was used.
UPDATE operators SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2
RETURNING id;

-- name: insert_sign_in_attempt
INSERT INTO sign_in_attempts (name, address, succeeded) VALUES ($1, $2, $3);

-- name: sign_in_failures
-- Failures of name $1 and of address $2 within $3, each counted since its last success.
SELECT
    (SELECT count(*) FROM sign_in_attempts a WHERE a.name = $1 AND NOT a.succeeded
        AND a.at > now() - $3::interval
        AND a.at > coalesce((SELECT max(s.at) FROM sign_in_attempts s
                             WHERE s.name = $1 AND s.succeeded), '-infinity')) AS by_name,
    (SELECT count(*) FROM sign_in_attempts a WHERE a.address = $2 AND NOT a.succeeded
        AND a.at > now() - $3::interval) AS by_address;

-- name: holder_by_citizen_id
-- FOR NO KEY UPDATE: writers of one holder still wait for each other, but an audit row that
-- names the holder (its foreign key takes KEY SHARE) is not held up by them. With FOR UPDATE, a
-- read's audit row, holding the audit chain's lock, waited for the writer, which then waited
-- for the chain's lock: a deadlock.
-- The ids under the citizen ID's indexes (one per live index key at most) are found first, in a
-- CTE of their own: with ORDER BY id LIMIT 1 on the table, a generic plan walked the primary key
-- in order and filtered every holder until the first match (the whole table for a new person).
WITH found AS MATERIALIZED (
    SELECT id FROM holders WHERE citizen_id_index = ANY($1::bytea[])
)
SELECT id, citizen_id, name, phone, address, sealed, sealed_address, anonymised_at, gender,
       birth_date, ethnicity, birthplace, bank
FROM holders WHERE id = (SELECT min(id) FROM found)
FOR NO KEY UPDATE;

-- name: holder_by_citizen_id_unlocked
-- The same holder, read without a row lock (a look-up changes nothing).
WITH found AS MATERIALIZED (
    SELECT id FROM holders WHERE citizen_id_index = ANY($1::bytea[])
)
SELECT id, citizen_id, name, phone, address, sealed, sealed_address, anonymised_at, gender,
       birth_date, ethnicity, birthplace, bank
FROM holders WHERE id = (SELECT min(id) FROM found);

-- name: holder_by_id
SELECT id, citizen_id, name, phone, address, sealed, sealed_address, anonymised_at, gender,
       birth_date, ethnicity, birthplace, bank
FROM holders WHERE id = $1
FOR NO KEY UPDATE;  -- see holder_by_citizen_id

-- name: insert_holder
-- The citizen ID's blind index $1, the sealed citizen ID, name and phone $2, the sealed
-- address $3.
INSERT INTO holders (citizen_id_index, sealed, sealed_address, gender, birth_date, ethnicity,
                     birthplace, bank)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, citizen_id, name, phone, address, sealed, sealed_address, anonymised_at, gender,
       birth_date, ethnicity, birthplace, bank;

-- name: update_holder
-- Every field of holder $1 (the caller passes the unchanged ones as they were).
-- A row written before 0007 is sealed here too (its plain columns emptied).
UPDATE holders
SET sealed = $2, sealed_address = $3, gender = $4, birth_date = $5, ethnicity = $6,
    birthplace = $7, bank = $8, citizen_id_index = $9, citizen_id = NULL, name = NULL,
    phone = '', address = '', updated_at = now()
WHERE id = $1
RETURNING id, citizen_id, name, phone, address, sealed, sealed_address, anonymised_at, gender,
       birth_date, ethnicity, birthplace, bank;

-- name: insert_holder_with_photo
-- insert_holder ($1-$8) and the applicant's sealed photo ($9, media type $10), in one statement;
-- the photo's id comes back as ``photo``.
WITH photo AS (
    INSERT INTO holder_photos (image, media_type) VALUES ($9, $10) RETURNING id
)
INSERT INTO holders (citizen_id_index, sealed, sealed_address, gender, birth_date, ethnicity,
                     birthplace, bank)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, citizen_id, name, phone, address, sealed, sealed_address, anonymised_at, gender,
       birth_date, ethnicity, birthplace, bank, (SELECT id FROM photo) AS photo;

-- name: insert_photo
INSERT INTO holder_photos (image, media_type) VALUES ($1, $2) RETURNING id;

-- name: photo_of_job
-- The photo of the card that job $1 makes, with the card's bank (for the scope check).
SELECT p.image, p.media_type, c.bank
FROM cards c JOIN holder_photos p ON p.id = c.photo
WHERE c.job_id = $1;

-- name: card_by_number
SELECT id, card_number, card_identifier, holder, bank, status, issue_date, expiry_date,
       card_data::text, photo, ordered_at_outlet, activated_at_outlet, job_id, replaces,
       superseded_by
FROM cards WHERE card_number = $1
FOR UPDATE;

-- name: card_by_number_unlocked
-- The same card, read without a row lock (status queries change nothing).
SELECT id, card_number, card_identifier, holder, bank, status, issue_date, expiry_date,
       card_data::text, photo, ordered_at_outlet, activated_at_outlet, job_id, replaces,
       superseded_by
FROM cards WHERE card_number = $1;

-- name: read_card_audited
-- A status query in one statement: card $1 if it is within bank scope $2 (NULL: every bank),
-- with the state and step of the job making it while it is in production, and the audit row
-- of the read (operator $3, bank $4, outlet $5, purpose $6, action $7), written only when the
-- card is found in scope. A job finished or dead is read from the history (step idle).
WITH found AS (
    SELECT id, card_number, card_identifier, holder, bank, status, issue_date, expiry_date,
           card_data::text, photo, ordered_at_outlet, activated_at_outlet, job_id, replaces,
           superseded_by
    FROM cards WHERE card_number = $1 AND ($2::text IS NULL OR bank = $2)
), audited AS (
    INSERT INTO audit_pending (operator, bank, outlet, purpose, holder, action, card)
    SELECT $3, $4, $5, $6, f.holder, $7, f.id FROM found f
)
SELECT f.*, j.state AS job_state, j.step AS job_step
FROM found f
LEFT JOIN LATERAL (
    SELECT q.state, q.step FROM card_jobs q
    WHERE q.id = f.job_id AND f.status = 'in_production'
    UNION ALL
    SELECT h.outcome, 'idle' FROM card_jobs_history h
    WHERE h.id = f.job_id AND f.status = 'in_production'
    LIMIT 1
) j ON true;

-- name: card_by_id
SELECT id, card_number, card_identifier, holder, bank, status, issue_date, expiry_date,
       card_data::text, photo, ordered_at_outlet, activated_at_outlet, job_id, replaces,
       superseded_by
FROM cards WHERE id = $1
FOR UPDATE;

-- name: card_by_job
SELECT id, card_number, card_identifier, holder, bank, status, issue_date, expiry_date,
       card_data::text, photo, ordered_at_outlet, activated_at_outlet, job_id, replaces,
       superseded_by
FROM cards WHERE job_id = $1
FOR UPDATE;

-- name: cards_of_holder
SELECT id, card_number, card_identifier, holder, bank, status, issue_date, expiry_date,
       card_data::text, photo, ordered_at_outlet, activated_at_outlet, job_id, replaces,
       superseded_by
FROM cards WHERE holder = $1
ORDER BY id
FOR UPDATE;

-- name: cards_of_holder_audited
-- A holder's cards, oldest first, unlocked, and the audit row of the read (operator $2,
-- bank $3, outlet $4, purpose $5, action $6) in the same statement.
WITH audited AS (
    INSERT INTO audit_pending (operator, bank, outlet, purpose, holder, action)
    VALUES ($2, $3, $4, $5, $1, $6)
)
SELECT id, card_number, card_identifier, holder, bank, status, issue_date, expiry_date,
       card_data::text, photo, ordered_at_outlet, activated_at_outlet, job_id, replaces,
       superseded_by
FROM cards WHERE holder = $1
ORDER BY id;

-- name: cards_of_holder_unlocked
SELECT id, card_number, card_identifier, holder, bank, status, issue_date, expiry_date,
       card_data::text, photo, ordered_at_outlet, activated_at_outlet, job_id, replaces,
       superseded_by
FROM cards WHERE holder = $1
ORDER BY id;

-- name: set_superseded_by
UPDATE cards SET superseded_by = $2, updated_at = now() WHERE id = $1;

-- name: transition_card
-- Card $1 takes status $4 and the event that says so is stored, in one statement.
WITH changed AS (
    UPDATE cards SET status = $4, updated_at = now() WHERE id = $1 RETURNING id
)
INSERT INTO card_events (card, action, from_status, to_status, operator, outlet, at, reason, note)
SELECT id, $2, $3, $4, $5, $6, $7, $8, $9 FROM changed;

-- name: transition_card_audited
-- transition_card and the audit row of the change in one statement: card $1 takes status $4
-- (and, when $10 is not NULL, the outlet where it was activated), its event is stored, and the
-- audit row (operator $5, bank $11, outlet $6, purpose $12, holder $13, action $14) is written.
WITH changed AS (
    UPDATE cards SET status = $4, activated_at_outlet = coalesce($10, activated_at_outlet),
                     updated_at = now()
    WHERE id = $1 RETURNING id
), event AS (
    INSERT INTO card_events (card, action, from_status, to_status, operator, outlet, at, reason,
                             note)
    SELECT id, $2, $3, $4, $5, $6, $7, $8, $9 FROM changed
)
INSERT INTO audit_pending (operator, bank, outlet, purpose, holder, action, card)
SELECT $5, $11, $6, $12, $13, $14, id FROM changed;

-- name: draw_card
-- For one new card of bank $1: a card-number sequence value, its id drawn ahead (so that
-- its job can be written first) and the bank's initialising-institution number.
SELECT nextval('card_number_seq') AS n, nextval(pg_get_serial_sequence('cards', 'id')) AS id,
       (SELECT institution_code FROM banks WHERE code = $1) AS institution;

-- name: insert_events
-- Several events of card $1, in order.
INSERT INTO card_events (card, action, from_status, to_status, operator, outlet, at, reason, note)
SELECT $1, t.action, t.from_status, t.to_status, t.operator, t.outlet, t.at, t.reason, t.note
FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[],
            $8::text[], $9::text[]) WITH ORDINALITY
    AS t(action, from_status, to_status, operator, outlet, at, reason, note, n)
ORDER BY t.n;

-- name: events_of_card
SELECT action, from_status, to_status, operator, outlet, at, reason, note
FROM card_events WHERE card = $1 ORDER BY id;

-- name: insert_audit
INSERT INTO audit_pending (operator, bank, outlet, purpose, holder, action, card, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: chain_pending_audit
-- Chain up to $1 committed pending audit records (audit_chain_pending, migration 0015).
SELECT audit_chain_pending($1) AS moved;

-- name: audit_of_holder
SELECT operator, bank, outlet, purpose, holder, action, at
FROM audit_log WHERE holder = $1 ORDER BY id;

-- name: audit_claimed_cards
-- A read of the card data in the payloads of claimed jobs $5: one row per card.
INSERT INTO audit_pending (operator, bank, outlet, purpose, holder, action, card)
SELECT $1, $2, $3, $4, c.holder, 'read', c.id
FROM cards c WHERE c.job_id = ANY($5::bigint[]) ORDER BY c.id;

-- name: audit_batch
-- A read of every holder of batch $5 (its manifest): one row per card, in file order.
INSERT INTO audit_log (operator, bank, outlet, purpose, holder, action, card)
SELECT $1, $2, $3, $4, c.holder, 'read', c.id
FROM batch_cards b JOIN cards c ON c.id = b.card WHERE b.batch = $5 ORDER BY b.line;

-- name: search_audit
-- Audit rows after id $1 matching every given filter (NULL: any), oldest first, at most $9:
-- bank $2, holder $3, card $4, operator $5, from $6 (inclusive) to $7 (exclusive), action $8.
SELECT a.id, a.at, a.operator, o.name AS operator_name, a.bank, a.outlet, a.purpose,
       a.action, a.holder, a.card, c.card_number, a.detail, a.prev_hash, a.hash
FROM audit_log a
JOIN operators o ON o.id = a.operator
LEFT JOIN cards c ON c.id = a.card
WHERE a.id > $1
  AND ($2::text IS NULL OR a.bank = $2)
  AND ($3::bigint IS NULL OR a.holder = $3)
  AND ($4::bigint IS NULL OR a.card = $4)
  AND ($5::bigint IS NULL OR a.operator = $5)
  AND ($6::timestamptz IS NULL OR a.at >= $6)
  AND ($7::timestamptz IS NULL OR a.at < $7)
  AND ($8::text IS NULL OR a.action = $8)
ORDER BY a.id
LIMIT $9;

-- name: audit_chain
-- Every audit row in chain order, with the fields the hash covers.
SELECT id, at, operator, bank, outlet, purpose, holder, card, action, detail, prev_hash, hash
FROM audit_log ORDER BY id;

-- name: audit_chain_size
SELECT count(*) AS n FROM audit_log;

-- name: audit_chain_head
SELECT last_id, last_hash FROM audit_chain_head;

-- name: idempotency_get
SELECT request_sha256, status, body FROM idempotency WHERE operator = $1 AND key = $2;

-- name: upsert_printer
INSERT INTO printers (site, name, status, fault) VALUES ($1, $2, $3, $4)
ON CONFLICT (site, name)
DO UPDATE SET status = excluded.status, fault = excluded.fault, updated_at = now();

-- name: printers_of_site
SELECT site, name, status, fault FROM printers WHERE site = $1 ORDER BY name;

-- name: clear_printer
UPDATE printers SET status = 'ok', fault = NULL, updated_at = now()
WHERE site = $1 AND name = $2
RETURNING name;

-- name: insert_spoiled
-- One row per body: a report retried for the same attempt ($5) records nothing more.
INSERT INTO spoiled_cards (job_id, card, printer, reason, attempt) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (job_id, attempt) WHERE attempt IS NOT NULL DO NOTHING
RETURNING id;

-- name: insert_print
-- Attempt $2 of job $1 is about to print card $3; a repeated announcement changes nothing.
-- A card number with a print that may exist or was delivered violates card_prints_once.
INSERT INTO card_prints (job_id, attempt, card_number, worker) VALUES ($1, $2, $3, $4)
ON CONFLICT (job_id, attempt) DO NOTHING;

-- name: open_prints
-- Prints of job $1 whose card may physically exist (not yet settled by evidence).
SELECT job_id, attempt, card_number, worker, announced_at FROM card_prints
WHERE job_id = $1 AND settled IS NULL ORDER BY attempt;

-- name: print_of_number
-- The print of card number $1 that may exist or was delivered, if any.
SELECT job_id, attempt, card_number, worker, announced_at FROM card_prints
WHERE card_number = $1 AND (settled IS NULL OR settled = 'delivered');

-- name: settle_prints
-- Settle job $1's open prints as $2 ('delivered', 'not_printed', 'spoiled', 'absent').
UPDATE card_prints SET settled = $2, evidence = left($3, 2000), settled_at = now()
WHERE job_id = $1 AND settled IS NULL
RETURNING attempt;

-- name: spoiled_of_job
SELECT job_id, card, printer, reason, at FROM spoiled_cards WHERE job_id = $1 ORDER BY id;

-- name: insert_home_visit
INSERT INTO home_visits (holder, card, outlet, appointment_at, address, job_id, operator)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: add_withdrawal
-- One more inter-bank withdrawal by card $1 in month $2; returns how many the
-- card had made that month before this one.
INSERT INTO withdrawals (card, month, count) VALUES ($1, $2, 1)
ON CONFLICT (card, month) DO UPDATE SET count = withdrawals.count + 1
RETURNING count - 1 AS before;

-- name: upsert_fee_schedule
INSERT INTO fee_schedules (bank, amounts, free_withdrawals_per_month, uploaded_by)
VALUES ($1, $2::jsonb, $3, $4)
ON CONFLICT (bank) DO UPDATE
SET amounts = excluded.amounts, free_withdrawals_per_month = excluded.free_withdrawals_per_month,
    uploaded_by = excluded.uploaded_by, uploaded_at = now();

-- name: fee_schedule_of
SELECT bank, amounts::text, free_withdrawals_per_month FROM fee_schedules WHERE bank = $1;

-- --- expedited small batches (issuance.services.batches) ---------------------------------

-- name: citizen_ids_with_live_card
-- Which of the citizen IDs $1 already hold a card that is live or being made.
-- (by their blind indexes)
SELECT DISTINCT h.citizen_id_index
FROM holders h JOIN cards c ON c.holder = h.id
WHERE h.citizen_id_index = ANY($1::bytea[])
  AND c.status IN ('requested', 'in_production', 'ready', 'issued', 'active', 'lost_temporary');

-- name: next_batch_id
-- B, the date in Beijing, and a six-digit serial.
SELECT 'B' || to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'
       || lpad(nextval('batch_seq')::text, 6, '0');

-- name: next_card_sequences
-- $1 values of the card-number sequence, each with a card id drawn ahead from the
-- cards' identity sequence (so that jobs naming the card can be written first).
SELECT nextval('card_number_seq') AS n, nextval(pg_get_serial_sequence('cards', 'id')) AS id
FROM generate_series(1, $1);

-- name: reindex_holders
-- During a blind-index rotation: holders found under an older index $1 take the current $2.
UPDATE holders h SET citizen_id_index = t.current
FROM unnest($1::bytea[], $2::bytea[]) AS t(old, current)
WHERE h.citizen_id_index = t.old;

-- name: upsert_holders
-- Many holders in one statement, by blind index $1; a known person takes the batch's data
-- (sealed citizen ID, name and phone $2; the address is kept).
INSERT INTO holders (citizen_id_index, sealed, sealed_address, gender, birth_date, ethnicity,
                     birthplace, bank)
SELECT t.citizen_id_index, t.sealed, $7, t.gender, t.birth_date, t.ethnicity, t.birthplace, $8
FROM unnest($1::bytea[], $2::bytea[], $3::text[], $4::date[], $5::int2[], $6::text[])
    AS t(citizen_id_index, sealed, gender, birth_date, ethnicity, birthplace)
ON CONFLICT (citizen_id_index) DO UPDATE
SET sealed = excluded.sealed, gender = excluded.gender, birth_date = excluded.birth_date,
    ethnicity = excluded.ethnicity, birthplace = excluded.birthplace, bank = excluded.bank,
    updated_at = now()
RETURNING id, citizen_id_index;

-- name: next_photo_ids
-- $1 photo ids drawn ahead, so that photos can be written with COPY.
SELECT nextval(pg_get_serial_sequence('holder_photos', 'id')) AS id FROM generate_series(1, $1);

-- name: open_upload
-- Batch $1 starts writing its photos ahead of its transaction (committed on its own).
INSERT INTO photo_uploads (batch) VALUES ($1);

-- name: close_upload
-- In batch $1's transaction: its photos are the cards' from the commit on.
DELETE FROM photo_uploads WHERE batch = $1;

-- name: discard_upload
-- The photos batch $1 wrote ahead, and its upload row; the batch never committed.
WITH photos AS (DELETE FROM holder_photos WHERE upload = $1)
DELETE FROM photo_uploads WHERE batch = $1;

-- name: fail_upload
-- Batch $1 failed: its photos are to be deleted.
UPDATE photo_uploads SET failed = true WHERE batch = $1;

-- name: dead_uploads
-- Uploads of batches that failed, or older than $1 (their process died mid-batch).
SELECT batch FROM photo_uploads WHERE failed OR at < now() - $1::interval ORDER BY at;

-- name: insert_cards_bulk
-- Many cards in one statement, with ids drawn ahead ($1), their jobs ($11) and the cards
-- they replace ($12), inserted with status $13 (their events are written by the caller).
INSERT INTO cards (id, card_number, card_identifier, holder, bank, status, issue_date,
                   expiry_date, card_data, photo, ordered_at_outlet, job_id, replaces)
OVERRIDING SYSTEM VALUE
SELECT t.id, t.card_number, t.card_identifier, t.holder, t.bank, $13, t.issue_date,
       t.expiry_date, t.card_data::jsonb, t.photo, t.outlet, t.job_id, t.replaces
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::date[],
            $7::date[], $8::text[], $9::bigint[], $10::text[], $11::bigint[], $12::bigint[])
    AS t(id, card_number, card_identifier, holder, bank, issue_date, expiry_date, card_data,
         photo, outlet, job_id, replaces);

-- name: insert_card_with_events
-- One card with its id drawn ahead ($1), its job ($11) and the card it replaces ($12), inserted
-- with status $13, its first events ($14-$21, in order) and, when purpose $25 is given, the
-- audit row of the order (operator $22, bank $23, outlet $24, action $26): one statement.
WITH card AS (
    INSERT INTO cards (id, card_number, card_identifier, holder, bank, status, issue_date,
                       expiry_date, card_data, photo, ordered_at_outlet, job_id, replaces)
    OVERRIDING SYSTEM VALUE
    VALUES ($1, $2, $3, $4, $5, $13, $6, $7, $8::text::jsonb, $9, $10, $11, $12)
    RETURNING id, holder
), audited AS (
    INSERT INTO audit_pending (operator, bank, outlet, purpose, holder, action, card)
    SELECT $22, $23, $24, $25, card.holder, $26, card.id FROM card WHERE $25::text IS NOT NULL
)
INSERT INTO card_events (card, action, from_status, to_status, operator, outlet, at, reason, note)
SELECT card.id, t.action, t.from_status, t.to_status, t.operator, t.outlet, t.at, t.reason,
       t.note
FROM card, unnest($14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[],
                  $19::timestamptz[], $20::text[], $21::text[]) WITH ORDINALITY
    AS t(action, from_status, to_status, operator, outlet, at, reason, note, n)
ORDER BY t.n;

-- name: insert_events_bulk
-- The same event ($2 from $3 to $4, by operator $5 at outlet $6, at $7) for cards $1.
INSERT INTO card_events (card, action, from_status, to_status, operator, outlet, at)
SELECT c, $2, $3, $4, $5, $6, $7 FROM unnest($1::bigint[]) AS c;

-- name: insert_audit_bulk
INSERT INTO audit_log (operator, bank, outlet, purpose, holder, action)
SELECT $1, $2, $3, $4, h, $5 FROM unnest($6::bigint[]) AS h;

-- name: insert_batch
INSERT INTO batches (id, bank, site, submitted_by, file_kind, rows_read, accepted, rejected)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: insert_batch_cards
INSERT INTO batch_cards (batch, card, line)
SELECT $1, t.card, t.line FROM unnest($2::bigint[], $3::int4[]) AS t(card, line);

-- name: get_batch
SELECT id, bank, site, submitted_by, submitted_at, file_kind, rows_read, accepted, rejected,
       status, finished_at
FROM batches WHERE id = $1;

-- name: batch_progress
-- How the cards of batch $1 stand: made, failed for good, in doubt, still to make.
SELECT count(*) AS cards,
       count(*) FILTER (WHERE hj.outcome = 'succeeded') AS done,
       count(*) FILTER (WHERE bc.failed_reason IS NOT NULL OR j.state = 'dead'
                              OR hj.outcome = 'cancelled') AS failed,
       count(*) FILTER (WHERE j.state = 'in_doubt') AS in_doubt,
       count(*) FILTER (WHERE j.state IN ('queued', 'running')) AS remaining,
       (SELECT count(*) FROM spoiled_cards s JOIN batch_cards b ON b.card = s.card
        WHERE b.batch = $1) AS spoiled,
       now() AS at
FROM batch_cards bc
JOIN cards c ON c.id = bc.card
LEFT JOIN card_jobs j ON j.id = c.job_id
LEFT JOIN card_jobs_history hj ON hj.id = c.job_id
WHERE bc.batch = $1;

-- name: batch_completions
-- When each card of batch $1 was finished, and on which printer (from the job's result).
SELECT finished_at, coalesce(result ->> 'printer', '') AS printer
FROM card_jobs_history
WHERE batch = $1 AND outcome = 'succeeded'
ORDER BY finished_at;

-- name: batch_spoiled_by_printer
SELECT coalesce(s.printer, '') AS printer, count(*) AS n
FROM spoiled_cards s JOIN batch_cards bc ON bc.card = s.card
WHERE bc.batch = $1
GROUP BY 1;

-- name: finish_batch
UPDATE batches SET status = 'complete', finished_at = now()
WHERE id = $1 AND status = 'in_production'
RETURNING finished_at;

-- name: batch_entries
-- One row per card of batch $1, in file order, with how its job stands.
SELECT c.card_number, h.name, h.citizen_id, h.phone, h.sealed, bc.failed_reason, j.state, hj.outcome,
       EXISTS (SELECT 1 FROM spoiled_cards s WHERE s.card = c.id) AS spoiled
FROM batch_cards bc
JOIN cards c ON c.id = bc.card
JOIN holders h ON h.id = c.holder
LEFT JOIN card_jobs j ON j.id = c.job_id
LEFT JOIN card_jobs_history hj ON hj.id = c.job_id
WHERE bc.batch = $1
ORDER BY bc.line;

-- name: fail_batch_card
-- Card $2 of batch $1 failed for good, with reason $3 given by operator $4 (a repeat
-- keeps the first reason, so an interrupted request can be repeated).
UPDATE batch_cards
SET failed_reason = coalesce(failed_reason, $3), failed_by = coalesce(failed_by, $4),
    failed_at = coalesce(failed_at, now())
WHERE batch = $1 AND card = $2
RETURNING card;

-- name: set_batch_counts
-- The batch's file kind and counts, once the whole file has been read.
UPDATE batches SET file_kind = $2, rows_read = $3, accepted = $4, rejected = $5 WHERE id = $1;

-- name: prune_idempotency
-- Forget the answers kept for Idempotency-Key retries, made before $1 (they hold personal
-- data and are of no use once no client would retry).
WITH gone AS (DELETE FROM idempotency WHERE created_at < $1 RETURNING 1)
SELECT count(*) FROM gone;

-- name: lapse_temporary_losses
-- Cards whose temporary loss was reported before $1 and never made formal or lifted take
-- status $3 through action $2, with an event; the cards changed.
WITH due AS (
    SELECT c.id FROM cards c
    WHERE c.status = 'lost_temporary'
      AND (SELECT max(e.at) FROM card_events e
           WHERE e.card = c.id AND e.to_status = 'lost_temporary') < $1
    FOR UPDATE OF c SKIP LOCKED
),
changed AS (
    UPDATE cards SET status = $3, updated_at = now() FROM due WHERE cards.id = due.id
    RETURNING cards.id
)
INSERT INTO card_events (card, action, from_status, to_status, operator, outlet, at, reason, note)
SELECT id, $2, 'lost_temporary', $3, NULL, NULL, now(), NULL, $4 FROM changed
RETURNING card;

-- name: insert_terminal
INSERT INTO security_terminals (serial, model, outlet) VALUES ($1, $2, $3)
ON CONFLICT (serial) DO NOTHING
RETURNING serial;

-- name: get_terminal
SELECT serial, model, outlet, state, registered_at FROM security_terminals WHERE serial = $1;

-- name: set_terminal_state
UPDATE security_terminals SET state = $2 WHERE serial = $1 RETURNING serial;

-- name: terminals_of_outlet
SELECT serial, model, outlet, state, registered_at FROM security_terminals
WHERE outlet = $1 ORDER BY serial;

-- name: insert_psam
INSERT INTO psam_cards (serial, bank) VALUES ($1, $2)
ON CONFLICT (serial) DO NOTHING
RETURNING serial;

-- name: get_psam
SELECT p.serial, p.bank, p.terminal, p.state, p.updated_at, t.outlet, t.state AS terminal_state
FROM psam_cards p LEFT JOIN security_terminals t ON t.serial = p.terminal
WHERE p.serial = $1;

-- name: get_psam_locked
SELECT p.serial, p.bank, p.terminal, p.state, p.updated_at, t.outlet, t.state AS terminal_state
FROM psam_cards p LEFT JOIN security_terminals t ON t.serial = p.terminal
WHERE p.serial = $1
FOR UPDATE OF p;

-- name: psams_of_outlet
SELECT p.serial, p.bank, p.terminal, p.state, p.updated_at, t.outlet, t.state AS terminal_state
FROM psam_cards p JOIN security_terminals t ON t.serial = p.terminal
WHERE t.outlet = $1 ORDER BY p.serial;

-- name: move_psam
-- Move PSAM $1 to state $2 in terminal $3 and record the move (action $4 from $5, by
-- operator $6 / actor $7, note $8).
WITH moved AS (
    UPDATE psam_cards SET state = $2, terminal = $3, updated_at = now() WHERE serial = $1
    RETURNING serial
)
INSERT INTO psam_events (psam, action, from_state, to_state, terminal, operator, actor, note)
SELECT serial, $4, $5, $2, $3, $6, $7, $8 FROM moved;

-- name: psam_events
SELECT action, from_state, to_state, terminal, operator, actor, note, at
FROM psam_events WHERE psam = $1 ORDER BY id;

-- name: insert_stock_request
INSERT INTO stock_requests (kind, bank, outlet, to_outlet, lot, quantity, note, requested_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id;

-- name: get_stock_request
SELECT r.id, r.kind, r.bank, r.outlet, r.to_outlet, r.lot, r.quantity, r.note, r.state,
       r.requested_by, a.name AS requested_by_name, r.requested_at, r.decided_by,
       d.name AS decided_by_name, r.decided_at
FROM stock_requests r JOIN operators a ON a.id = r.requested_by
LEFT JOIN operators d ON d.id = r.decided_by
WHERE r.id = $1;

-- name: lock_stock_request
SELECT id FROM stock_requests WHERE id = $1 FOR UPDATE;

-- name: decide_stock_request
UPDATE stock_requests SET state = $2, decided_by = $3, decided_at = now()
WHERE id = $1 AND state = 'pending'
RETURNING id;

-- name: pending_stock_requests
SELECT r.id, r.kind, r.bank, r.outlet, r.to_outlet, r.lot, r.quantity, r.note, r.state,
       r.requested_by, a.name AS requested_by_name, r.requested_at, r.decided_by,
       NULL::text AS decided_by_name, r.decided_at
FROM stock_requests r JOIN operators a ON a.id = r.requested_by
WHERE r.state = 'pending' AND (r.outlet = $1 OR r.to_outlet = $1)
ORDER BY r.id;

-- name: insert_stock_move
INSERT INTO stock_moves (outlet, kind, quantity, request) VALUES ($1, $2, $3, $4);

-- name: lock_outlet_stock
-- Serialise the stock changes of outlet $1 (transfers and destructions check its balance).
SELECT pg_advisory_xact_lock(6065002, hashtext($1));

-- name: stock_balance
-- Blank bodies at outlet $1 before $2 (NULL: now).
SELECT coalesce(sum(CASE WHEN kind IN ('received', 'transferred_in') THEN quantity
                         WHEN kind = 'fed' THEN 0 ELSE -quantity END), 0) AS balance
FROM stock_moves WHERE outlet = $1 AND ($2::timestamptz IS NULL OR at < $2);

-- name: stock_day
-- The moves of outlet $1 from $2 to $3, by kind.
SELECT kind, sum(quantity) AS n FROM stock_moves
WHERE outlet = $1 AND at >= $2 AND at < $3 GROUP BY kind;

-- name: record_job_body
-- A body of card job $1 was $2 (fed, printed, spoiled) at the outlet its site names; once
-- per attempt. Nothing for the bank's central line (not an outlet).
INSERT INTO stock_moves (outlet, kind, quantity, job_id, attempt)
SELECT o.code, $2, 1, $1, coalesce(j.attempts, h.attempts)
FROM (SELECT $1::bigint AS id) wanted
LEFT JOIN card_jobs j ON j.id = wanted.id
LEFT JOIN card_jobs_history h ON h.id = wanted.id
JOIN outlets o ON o.code = split_part(coalesce(j.site, h.site), ':', 1)
WHERE coalesce(j.kind, h.kind) = 'card'
ON CONFLICT (job_id, kind, attempt) WHERE job_id IS NOT NULL DO NOTHING;

-- name: record_attempt_body
-- A body of attempt $3 of card job $1 was $2 (fed, spoiled): as record_job_body, for an
-- attempt that may not be the job's latest (a run the service heard of too late).
INSERT INTO stock_moves (outlet, kind, quantity, job_id, attempt)
SELECT o.code, $2, 1, $1, $3
FROM (SELECT $1::bigint AS id) wanted
LEFT JOIN card_jobs j ON j.id = wanted.id
LEFT JOIN card_jobs_history h ON h.id = wanted.id
JOIN outlets o ON o.code = split_part(coalesce(j.site, h.site), ':', 1)
WHERE coalesce(j.kind, h.kind) = 'card'
ON CONFLICT (job_id, kind, attempt) WHERE job_id IS NOT NULL DO NOTHING;

-- name: insert_reconciliation
INSERT INTO stock_reconciliations (outlet, day, opening, received, issued, spoiled, destroyed,
    expected, counted, fed, exceptions, reconciled_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
ON CONFLICT (outlet, day) DO NOTHING
RETURNING outlet;

-- name: reconciliations
SELECT outlet, day, opening, received, issued, spoiled, destroyed, expected, counted, fed,
       exceptions, reconciled_by, at
FROM stock_reconciliations WHERE outlet = $1 ORDER BY day DESC LIMIT $2;
