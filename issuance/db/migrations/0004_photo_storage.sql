-- Photos are JPEG or PNG, already compressed: PostgreSQL's own compression of
-- a value over 2 kB (pglz) cannot shrink them and costs CPU on every insert.
-- EXTERNAL keeps them out of line, uncompressed.

ALTER TABLE holder_photos ALTER COLUMN image SET STORAGE EXTERNAL;
