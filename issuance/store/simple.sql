-- Simple-query templates: statements sent together with their BEGIN or COMMIT in one
-- round trip. Several statements in one query string cannot take parameters, so their
-- values are constants made by the Store with every character or byte escaped
-- (``_text_literal``, ``_bytes_literal`` in issuance.store.store): nothing in a value can end
-- its constant. Constants, not function calls, so that they match the primary key's index.
-- Not prepared: each is parsed on each use, which costs the server less than a round trip.

-- name: begin_and_claim
-- BEGIN and take the key, in one round trip. Its status is "INSERT 0 1" when the key was
-- new; a concurrent request with the same key waits here for the first.
BEGIN;
INSERT INTO idempotency (operator, key, request_sha256)
VALUES ({operator}, {key}, {digest})
ON CONFLICT (operator, key) DO NOTHING;

-- name: finish_and_commit
-- Remember the answer under the key and COMMIT, in one round trip.
UPDATE idempotency SET status = {status}, body = {body}
WHERE operator = {operator} AND key = {key};
COMMIT;
