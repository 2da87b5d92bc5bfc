-- The outbox for every object (booking, ticket, feed, release, webhook endpoint), webhook
-- endpoints and their deliveries, and the settlement ledger with its closed statements.

-- One event per state change, written in the transaction of the change (`outbox_write`).
-- `seq` orders an object's events (assigned under the object's counter row lock, so in
-- commit order); `txid` lets a reader page without skipping an event whose transaction
-- committed after a later id's (`GET /v1/events` reads only what no running transaction
-- can still precede). `owners` says who may see it: 'tenant:<id>', 'operator:<id>', 'planner'.
CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    object_type  text NOT NULL
                 CHECK (object_type IN ('booking', 'ticket', 'feed', 'release', 'webhook_endpoint')),
    object_id    text NOT NULL,
    seq          integer NOT NULL CHECK (seq > 0),
    type         text NOT NULL,
    tenant_id    text,
    owners       text[] NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (object_type, object_id, seq)
);
CREATE INDEX events_order ON events (txid, id);
CREATE INDEX events_owners ON events USING gin (owners);

CREATE TABLE event_sequences (
    object_type text NOT NULL,
    object_id   text NOT NULL,
    last_seq    integer NOT NULL,
    PRIMARY KEY (object_type, object_id)
);

CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    owner            text NOT NULL CHECK (owner ~ '^(tenant:|operator:|planner$)'),
    url              text NOT NULL CHECK (url ~ '^https?://'),
    -- event types ('booking.confirmed') or prefixes ('booking.*'); empty: every event
    events           text[] NOT NULL DEFAULT '{}',
    secret           text NOT NULL,
    previous_secret  text,
    previous_until   timestamptz,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failing')),
    failing_since    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner) WHERE deleted_at IS NULL;

-- One row per event and endpoint, made with the event: nothing to fan out later.
CREATE TABLE webhook_deliveries (
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES events (id),
    object_type     text NOT NULL,
    object_id       text NOT NULL,
    seq             integer NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    delivered_at    timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL;
CREATE INDEX webhook_deliveries_object ON webhook_deliveries (endpoint_id, object_type, object_id, seq)
    WHERE delivered_at IS NULL;

-- Who sees a booking's event: its app, and the operators of its legs (of the one leg named).
CREATE FUNCTION booking_owners(p_booking uuid, p_tenant text, p_payload jsonb) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT array_prepend('tenant:' || p_tenant,
               coalesce(array_agg(DISTINCT 'operator:' || l.operator_id), '{}'))
    FROM booking_legs l
    WHERE l.booking_id = p_booking
      AND (NOT p_payload ? 'leg' OR l.id::text = p_payload->>'leg')
$$;

CREATE FUNCTION outbox_write(p_object_type text, p_object_id text, p_type text, p_tenant text,
                             p_owners text[], p_payload jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_seq integer;
    v_id bigint;
    v_owners text[] := p_owners;
BEGIN
    IF v_owners IS NULL AND p_object_type = 'booking' THEN
        v_owners := booking_owners(p_object_id::uuid, p_tenant, p_payload);
    END IF;
    INSERT INTO event_sequences AS s (object_type, object_id, last_seq)
        VALUES (p_object_type, p_object_id, 1)
        ON CONFLICT (object_type, object_id) DO UPDATE SET last_seq = s.last_seq + 1
        RETURNING last_seq INTO v_seq;
    INSERT INTO events (object_type, object_id, seq, type, tenant_id, owners, payload)
        VALUES (p_object_type, p_object_id, v_seq, p_type, p_tenant, coalesce(v_owners, '{}'),
                p_payload)
        RETURNING id INTO v_id;
    INSERT INTO webhook_deliveries (endpoint_id, event_id, object_type, object_id, seq,
                                    next_attempt_at)
        SELECT w.id, v_id, p_object_type, p_object_id, v_seq, now()
        FROM webhook_endpoints w
        WHERE w.owner = ANY (v_owners) AND w.deleted_at IS NULL AND w.status = 'active'
          AND (w.events = '{}' OR p_type = ANY (w.events)
               OR split_part(p_type, '.', 1) || '.*' = ANY (w.events));
    RETURN v_id;
END
$$;

-- booking_events was the bookings' outbox: its rows move to `events`, and the name stays a
-- view of the bookings' events that still takes inserts (into the one outbox).
INSERT INTO event_sequences (object_type, object_id, last_seq)
    SELECT 'booking', booking_id::text, count(*) FROM booking_events GROUP BY booking_id;
INSERT INTO events (object_type, object_id, seq, type, tenant_id, owners, payload, created_at)
    SELECT 'booking', e.booking_id::text,
           row_number() OVER (PARTITION BY e.booking_id ORDER BY e.id),
           e.type, e.tenant_id, booking_owners(e.booking_id, e.tenant_id, e.payload),
           e.payload, e.created_at
    FROM booking_events e ORDER BY e.id;
DROP TABLE booking_events;
CREATE VIEW booking_events AS
    SELECT id, object_id::uuid AS booking_id, tenant_id, type, payload, created_at
    FROM events WHERE object_type = 'booking';

CREATE FUNCTION booking_events_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.id := outbox_write('booking', NEW.booking_id::text, NEW.type, NEW.tenant_id, NULL,
                           NEW.payload);
    RETURN NEW;
END
$$;
CREATE TRIGGER booking_events_insert INSTEAD OF INSERT ON booking_events
    FOR EACH ROW EXECUTE FUNCTION booking_events_insert();

-- Settlement: what each app owes each operator. A ledger line per ticket sold and per
-- refund, written by triggers in the transaction of the sale or the cancel; its period is
-- the first month (UTC) at or after the change that is not closed yet.
ALTER TABLE booking_legs ADD COLUMN refund_minor bigint CHECK (refund_minor >= 0);

CREATE TABLE settlement_statements (
    period     text PRIMARY KEY CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    closed_at  timestamptz NOT NULL DEFAULT now(),
    lines      jsonb NOT NULL,
    kid        text NOT NULL,
    jws        text NOT NULL
);

CREATE TABLE settlement_entries (
    id           bigserial PRIMARY KEY,
    period       text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('sale', 'refund')),
    booking_id   uuid NOT NULL REFERENCES bookings (id),
    leg_id       uuid NOT NULL REFERENCES booking_legs (id),
    tenant_id    text NOT NULL,
    operator_id  text NOT NULL,
    currency     text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
    fee_minor    bigint NOT NULL DEFAULT 0 CHECK (fee_minor >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (leg_id, kind)
);
CREATE INDEX settlement_entries_period ON settlement_entries (period, operator_id, tenant_id);

CREATE TABLE settlement_keys (
    kid         text PRIMARY KEY,
    private_pem bytea NOT NULL,
    public_jwk  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION settlement_open_period(p_at timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_month date := date_trunc('month', p_at AT TIME ZONE 'UTC')::date;
BEGIN
    WHILE EXISTS (SELECT 1 FROM settlement_statements WHERE period = to_char(v_month, 'YYYY-MM'))
    LOOP
        v_month := (v_month + interval '1 month')::date;
    END LOOP;
    RETURN to_char(v_month, 'YYYY-MM');
END
$$;

CREATE FUNCTION settlement_entry_period() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.period := settlement_open_period(NEW.created_at);
    RETURN NEW;
END
$$;
CREATE TRIGGER settlement_entry_period BEFORE INSERT ON settlement_entries
    FOR EACH ROW EXECUTE FUNCTION settlement_entry_period();

CREATE FUNCTION settlement_ticket_sold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_entries (kind, booking_id, leg_id, tenant_id, operator_id, currency,
                                    amount_minor, period)
        SELECT 'sale', l.booking_id, l.id, b.tenant_id, l.operator_id, l.currency,
               l.price_minor, ''
        FROM booking_legs l JOIN bookings b ON b.id = l.booking_id
        WHERE l.id = NEW.booking_leg_id
        ON CONFLICT (leg_id, kind) DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER settlement_ticket_sold AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION settlement_ticket_sold();

-- A cancelled booking refunds each sold leg what its conditions (or the operator's cancel)
-- gave back; the rest of the leg's price is the fee the operator keeps.
CREATE FUNCTION settlement_booking_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_entries (kind, booking_id, leg_id, tenant_id, operator_id, currency,
                                    amount_minor, fee_minor, period)
        SELECT 'refund', e.booking_id, e.leg_id, e.tenant_id, e.operator_id, e.currency,
               least(coalesce(l.refund_minor, 0), e.amount_minor),
               e.amount_minor - least(coalesce(l.refund_minor, 0), e.amount_minor), ''
        FROM settlement_entries e JOIN booking_legs l ON l.id = e.leg_id
        WHERE e.booking_id = NEW.id AND e.kind = 'sale'
        ON CONFLICT (leg_id, kind) DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER settlement_booking_cancelled AFTER UPDATE OF status ON bookings
    FOR EACH ROW WHEN (NEW.status = 'CANCELLED' AND OLD.status IS DISTINCT FROM 'CANCELLED')
    EXECUTE FUNCTION settlement_booking_cancelled();

-- A closed statement is what both parties signed off: never changed, never removed.
CREATE FUNCTION settlement_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'settlement statements are immutable' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER settlement_statements_immutable BEFORE UPDATE OR DELETE ON settlement_statements
    FOR EACH ROW EXECUTE FUNCTION settlement_immutable();
CREATE TRIGGER settlement_entries_immutable BEFORE UPDATE OR DELETE ON settlement_entries
    FOR EACH ROW EXECUTE FUNCTION settlement_immutable();

-- Tickets, feeds and releases are written by several packages; their events come from
-- triggers, so each lands in the transaction of its change whoever makes it.
CREATE FUNCTION ticket_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_tenant text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NEW;
    END IF;
    SELECT tenant_id INTO v_tenant FROM bookings WHERE id = NEW.booking_id;
    PERFORM outbox_write('ticket', NEW.id::text,
        CASE WHEN TG_OP = 'INSERT' THEN 'ticket.issued' ELSE 'ticket.' || lower(NEW.status) END,
        v_tenant, ARRAY['tenant:' || v_tenant, 'operator:' || NEW.operator_id],
        jsonb_build_object('booking', NEW.booking_id, 'leg', NEW.booking_leg_id,
                           'status', NEW.status, 'valid_until', NEW.valid_until));
    RETURN NEW;
END
$$;
CREATE TRIGGER ticket_event AFTER INSERT OR UPDATE OF status ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticket_event();

CREATE FUNCTION feed_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_current AND NOT OLD.is_current THEN
        PERFORM outbox_write('feed', NEW.operator_id, 'feed.current', NULL,
            ARRAY['operator:' || NEW.operator_id],
            jsonb_build_object('version', NEW.id, 'sha256', NEW.sha256, 'counts', NEW.counts));
    ELSIF NEW.status = 'pruned' AND OLD.status <> 'pruned' THEN
        PERFORM outbox_write('feed', NEW.operator_id, 'feed.pruned', NULL,
            ARRAY['operator:' || NEW.operator_id], jsonb_build_object('version', NEW.id));
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER feed_event AFTER UPDATE OF is_current, status ON feed_versions
    FOR EACH ROW EXECUTE FUNCTION feed_event();

CREATE FUNCTION release_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM outbox_write('release', NEW.id::text, 'release.published', NULL, ARRAY['planner'],
        jsonb_build_object('period', NEW.period, 'zone_system', NEW.zone_system,
                           'bucket', NEW.bucket, 'epsilon', NEW.epsilon));
    RETURN NEW;
END
$$;
CREATE TRIGGER release_event AFTER INSERT ON flow_releases
    FOR EACH ROW EXECUTE FUNCTION release_event();
