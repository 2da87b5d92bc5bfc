-- Trip flows: consents and their receipts, trip records (partitioned by period), the
-- per-period pseudonym keys and privacy budget, zone systems, and immutable releases.

-- The traveller's current consent per purpose; a withdrawal deletes the row.
CREATE TABLE flow_consents (
    tenant_id     text NOT NULL,
    traveller_ref text NOT NULL CHECK (length(traveller_ref) BETWEEN 1 AND 64),
    purpose       text NOT NULL CHECK (purpose IN ('trip-statistics')),
    granted_at    timestamptz NOT NULL,
    receipt_id    uuid NOT NULL,
    PRIMARY KEY (tenant_id, traveller_ref, purpose)
);

-- Every grant, withdrawal and erasure, as the receipt that was handed out. Append-only:
-- the trigger below refuses UPDATE and DELETE, whoever asks.
CREATE TABLE flow_consent_receipts (
    id            uuid PRIMARY KEY,
    tenant_id     text NOT NULL,
    traveller_ref text NOT NULL,
    purpose       text,
    action        text NOT NULL CHECK (action IN ('grant', 'withdraw', 'erase')),
    receipt       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_consent_receipts_traveller
    ON flow_consent_receipts (tenant_id, traveller_ref, created_at);

CREATE FUNCTION flows_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER flow_consent_receipts_append_only
    BEFORE UPDATE OR DELETE ON flow_consent_receipts
    FOR EACH ROW EXECUTE FUNCTION flows_append_only();

-- A period is a calendar month in the flows' time zone. Its privacy budget cannot be
-- overspent (the CHECK holds whatever the number of gateway processes).
CREATE TABLE flow_periods (
    period          text PRIMARY KEY CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL CHECK (ends_at > starts_at),
    budget_epsilon  numeric NOT NULL CHECK (budget_epsilon >= 0),
    spent_epsilon   numeric NOT NULL DEFAULT 0 CHECK (spent_epsilon >= 0),
    base_release_id uuid,
    released_at     timestamptz,
    key_destroyed_at timestamptz,
    purged_at       timestamptz,
    CHECK (spent_epsilon <= budget_epsilon)
);

-- The pseudonym key of a period; destroying it is deleting the row.
CREATE TABLE flow_period_keys (
    period text PRIMARY KEY REFERENCES flow_periods (period),
    key    bytea NOT NULL CHECK (length(key) = 32)
);

-- How many trips each pseudonym has in a period: the ordinal caps contributions.
CREATE TABLE flow_trip_counts (
    period    text NOT NULL REFERENCES flow_periods (period),
    pseudonym bytea NOT NULL,
    trips     integer NOT NULL CHECK (trips > 0),
    PRIMARY KEY (period, pseudonym)
);

-- One travelled journey: zones instead of stops, buckets instead of times, no booking id.
CREATE TABLE flow_trip_records (
    id               bigserial,
    period           text NOT NULL,
    pseudonym        bytea NOT NULL CHECK (length(pseudonym) = 32),
    seq              integer NOT NULL CHECK (seq > 0),
    origin_fare      text NOT NULL,
    destination_fare text NOT NULL,
    origin_h3        bigint NOT NULL,
    destination_h3   bigint NOT NULL,
    districts        jsonb NOT NULL DEFAULT '{}',
    service_date     date NOT NULL,
    hour             smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    mode_key         text NOT NULL,
    operator_key     text NOT NULL,
    modes            text[] NOT NULL,
    operators        text[] NOT NULL,
    legs             smallint NOT NULL CHECK (legs > 0),
    synthetic        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (period, id)
) PARTITION BY LIST (period);
CREATE INDEX flow_trip_records_pseudonym ON flow_trip_records (period, pseudonym);

-- Districts uploaded as GeoJSON; the fare zones and H3 systems are built in.
CREATE TABLE flow_zone_systems (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name       text NOT NULL,
    zones      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Releases never change: cells are written with the release, then only read.
CREATE TABLE flow_releases (
    id              uuid PRIMARY KEY,
    period          text NOT NULL REFERENCES flow_periods (period),
    zone_system     text NOT NULL,
    bucket          text NOT NULL CHECK (bucket IN ('hour', 'part_of_day', 'day')),
    breakdown       text[] NOT NULL,
    k               integer NOT NULL CHECK (k >= 2),
    epsilon         numeric CHECK (epsilon > 0),
    noise_scale     double precision,
    margin_of_error_95 integer,
    max_trips_per_traveller integer NOT NULL CHECK (max_trips_per_traveller > 0),
    zones           jsonb NOT NULL,
    buckets         text[] NOT NULL,
    modes           text[] NOT NULL,
    operators       text[] NOT NULL,
    cells_total     bigint NOT NULL,
    cells_published integer NOT NULL,
    cells_suppressed bigint NOT NULL,
    synthetic       boolean NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (cells_published + cells_suppressed = cells_total),
    CHECK ((epsilon IS NULL) = (noise_scale IS NULL))
);
CREATE INDEX flow_releases_period ON flow_releases (period, created_at);

ALTER TABLE flow_periods
    ADD CONSTRAINT flow_periods_base FOREIGN KEY (base_release_id) REFERENCES flow_releases (id);

-- Only the published cells are stored; every other cell of the release's grid is suppressed.
CREATE TABLE flow_release_cells (
    release_id  uuid NOT NULL REFERENCES flow_releases (id),
    origin      text NOT NULL,
    destination text NOT NULL,
    bucket      text NOT NULL,
    mode        text NOT NULL,
    operator    text NOT NULL,
    count       integer NOT NULL CHECK (count >= 0),
    PRIMARY KEY (release_id, origin, destination, bucket, mode, operator)
);

CREATE TRIGGER flow_releases_immutable
    BEFORE UPDATE OR DELETE ON flow_releases
    FOR EACH ROW EXECUTE FUNCTION flows_append_only();
CREATE TRIGGER flow_release_cells_immutable
    BEFORE UPDATE OR DELETE ON flow_release_cells
    FOR EACH ROW EXECUTE FUNCTION flows_append_only();
