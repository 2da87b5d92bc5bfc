-- Wake the webhook dispatchers when a delivery is queued: `outbox_write` inserts one row per
-- event and endpoint, and this statement trigger notifies `maas_webhooks` once per statement
-- that queued any (the payload is empty, so PostgreSQL folds a transaction's notifications
-- into one, sent when it commits: a dispatcher never wakes for an uncommitted event). An
-- event no endpoint wants queues nothing and wakes nobody. Dispatchers still poll, as a
-- fallback for a lost LISTEN connection and for retries, which come due with no insert.
CREATE FUNCTION webhook_deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM queued) THEN
        PERFORM pg_notify('maas_webhooks', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_deliveries_notify AFTER INSERT ON webhook_deliveries
    REFERENCING NEW TABLE AS queued
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_notify();
