-- Every process caches API keys, operators and their conditions, current fares and
-- signing keys (sales/cache.py). A change to any of those tables notifies the
-- `maas_cache` channel with the table's name, sent when the transaction commits, and
-- every process drops what that table feeds. One notification per statement: a
-- transaction's identical notifications are folded into one by PostgreSQL.
CREATE FUNCTION maas_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('maas_cache', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER api_keys_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION maas_cache_changed();
CREATE TRIGGER operators_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON operators
    FOR EACH STATEMENT EXECUTE FUNCTION maas_cache_changed();
CREATE TRIGGER operator_conditions_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON operator_conditions
    FOR EACH STATEMENT EXECUTE FUNCTION maas_cache_changed();
CREATE TRIGGER fare_versions_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON fare_versions
    FOR EACH STATEMENT EXECUTE FUNCTION maas_cache_changed();
CREATE TRIGGER feed_versions_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feed_versions
    FOR EACH STATEMENT EXECUTE FUNCTION maas_cache_changed();
CREATE TRIGGER signing_keys_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION maas_cache_changed();
