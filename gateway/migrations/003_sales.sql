-- Ticket sales: fares, offers, two-phase bookings, capacity, tickets, signing keys,
-- idempotency keys and the outbox of booking events.

ALTER TABLE operators
    ADD COLUMN tomp_url   text CHECK (tomp_url ~ '^https?://'),
    ADD COLUMN tomp_token text,
    ADD CONSTRAINT tomp_needs_url CHECK (sales_channel <> 'tomp' OR tomp_url IS NOT NULL);

-- Fares v2 as published (the zip of fare files); the current one prices every offer.
CREATE TABLE fare_versions (
    id          bigserial PRIMARY KEY,
    operator_id text NOT NULL REFERENCES operators (id),
    sha256      text NOT NULL,
    files       bytea NOT NULL,
    warnings    jsonb NOT NULL DEFAULT '[]',
    product_count integer NOT NULL CHECK (product_count >= 0),
    is_current  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (operator_id, sha256)
);
CREATE UNIQUE INDEX fare_versions_one_current ON fare_versions (operator_id) WHERE is_current;

-- Limited seats: of a product, or of one departure (trip on a service date).
CREATE TABLE capacities (
    id           bigserial PRIMARY KEY,
    operator_id  text NOT NULL REFERENCES operators (id),
    product_id   text,
    trip_id      text,
    service_date date,
    seats_total  integer NOT NULL CHECK (seats_total >= 0),
    seats_taken  integer NOT NULL DEFAULT 0,
    CHECK (seats_taken >= 0 AND seats_taken <= seats_total),
    CHECK ((product_id IS NULL) <> (trip_id IS NULL)),
    CHECK ((trip_id IS NULL) = (service_date IS NULL))
);
CREATE UNIQUE INDEX capacities_product ON capacities (operator_id, product_id)
    WHERE product_id IS NOT NULL;
CREATE UNIQUE INDEX capacities_departure ON capacities (operator_id, trip_id, service_date)
    WHERE trip_id IS NOT NULL;

CREATE TABLE offers (
    id           uuid PRIMARY KEY,
    tenant_id    text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('product', 'itinerary')),
    legs         jsonb NOT NULL,
    travellers   jsonb NOT NULL,
    total_minor  bigint NOT NULL CHECK (total_minor >= 0),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    valid_from   timestamptz NOT NULL,
    valid_until  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until > created_at)
);
CREATE INDEX offers_tenant ON offers (tenant_id, created_at);

CREATE TABLE bookings (
    id            uuid PRIMARY KEY,
    tenant_id     text NOT NULL,
    status        text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CONDITIONAL_CONFIRMED',
                      'REJECTED', 'EXPIRED', 'CANCELLED', 'STARTED', 'FINISHED')),
    traveller_ref text,
    travellers    jsonb NOT NULL,
    total_minor   bigint NOT NULL CHECK (total_minor >= 0),
    refund_minor  bigint CHECK (refund_minor >= 0 AND refund_minor <= total_minor),
    currency      text NOT NULL,
    expires_at    timestamptz NOT NULL,
    reason        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bookings_tenant ON bookings (tenant_id, created_at DESC, id DESC);
CREATE INDEX bookings_pending_expiry ON bookings (expires_at) WHERE status = 'PENDING';

-- An offer is booked at most once, ever.
CREATE TABLE booking_offers (
    offer_id   uuid PRIMARY KEY REFERENCES offers (id),
    booking_id uuid NOT NULL REFERENCES bookings (id)
);

CREATE TABLE booking_legs (
    id            uuid PRIMARY KEY,
    booking_id    uuid NOT NULL REFERENCES bookings (id),
    position      integer NOT NULL,
    offer_id      uuid NOT NULL REFERENCES offers (id),
    operator_id   text NOT NULL REFERENCES operators (id),
    status        text NOT NULL CHECK (status IN ('PENDING', 'RESERVE_FAILED', 'CONFIRMED',
                      'RELEASED', 'CANCELLED')),
    detail        jsonb NOT NULL,
    price_minor   bigint NOT NULL CHECK (price_minor >= 0),
    currency      text NOT NULL,
    capacity_id   bigint REFERENCES capacities (id),
    seats         integer NOT NULL DEFAULT 0 CHECK (seats >= 0),
    operator_ref  text,
    UNIQUE (booking_id, position)
);

CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    operator_id  text NOT NULL REFERENCES operators (id),
    private_pem  bytea NOT NULL,
    public_jwk   jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz,
    -- a retired key is still published until every ticket it signed has expired
    publish_until timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (operator_id) WHERE retired_at IS NULL;

CREATE TABLE tickets (
    id           uuid PRIMARY KEY,
    booking_leg_id uuid NOT NULL UNIQUE REFERENCES booking_legs (id),
    booking_id   uuid NOT NULL REFERENCES bookings (id),
    operator_id  text NOT NULL REFERENCES operators (id),
    kid          text NOT NULL REFERENCES signing_keys (kid),
    token        text NOT NULL,
    valid_from   timestamptz NOT NULL,
    valid_until  timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'VALID' CHECK (status IN ('VALID', 'CANCELLED')),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Idempotency keys are scoped to a tenant and kept at least 24 hours.
CREATE TABLE idempotency_keys (
    tenant_id     text NOT NULL,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  text NOT NULL,
    status_code   integer,
    response_body jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

-- Outbox: every state change, written in the transaction that made it.
CREATE TABLE booking_events (
    id          bigserial PRIMARY KEY,
    booking_id  uuid NOT NULL REFERENCES bookings (id),
    tenant_id   text NOT NULL,
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_events_booking ON booking_events (booking_id, id);

-- How long a ticket is valid and what a refund costs, per operator (its published conditions).
ALTER TABLE operators
    ADD COLUMN ticket_validity_min integer NOT NULL DEFAULT 90 CHECK (ticket_validity_min > 0),
    ADD COLUMN refund_fee_minor integer NOT NULL DEFAULT 0 CHECK (refund_fee_minor >= 0);
