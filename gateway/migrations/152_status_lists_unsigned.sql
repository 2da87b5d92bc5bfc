-- A status list is no longer kept once signed: serving one writes nothing (every process
-- signs the same bytes for the same bits, key and hour), so the cache columns go.
ALTER TABLE status_lists DROP COLUMN token, DROP COLUMN token_etag, DROP COLUMN signed_at;
