-- Timetables: every operator's GTFS feed versions, and the GTFS tables of each version.
-- A version is stored whole and then made current in the same transaction; exactly one
-- version per operator is current, and the one before stays until the next is stored.
CREATE TABLE feed_versions (
    id           bigserial PRIMARY KEY,
    operator_id  text NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    status       text NOT NULL CHECK (status IN ('ready', 'pruned')),
    is_current   boolean NOT NULL DEFAULT false,
    warnings     jsonb NOT NULL DEFAULT '{"items": [], "total": 0}',
    counts       jsonb NOT NULL DEFAULT '{}',
    CHECK (NOT is_current OR status = 'ready')
);
CREATE UNIQUE INDEX feed_versions_one_current ON feed_versions (operator_id) WHERE is_current;
CREATE INDEX feed_versions_by_operator ON feed_versions (operator_id, id DESC);

-- Ids are namespaced by operator (`operator:original_id`); columns follow gtfs.tables.COLUMNS.
CREATE TABLE gtfs_agency (
    feed_version_id bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    agency_id       text NOT NULL,
    agency_name     text NOT NULL,
    agency_url      text,
    agency_timezone text NOT NULL,
    agency_lang     text,
    agency_phone    text,
    operator_id     text NOT NULL,
    PRIMARY KEY (feed_version_id, agency_id)
);

CREATE TABLE gtfs_stops (
    feed_version_id     bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    stop_id             text NOT NULL,
    stop_code           text,
    stop_name           text,
    stop_lat            double precision CHECK (stop_lat BETWEEN -90 AND 90),
    stop_lon            double precision CHECK (stop_lon BETWEEN -180 AND 180),
    zone_id             text,
    location_type       smallint,
    parent_station      text,
    wheelchair_boarding smallint,
    platform_code       text,
    operator_id         text NOT NULL,
    PRIMARY KEY (feed_version_id, stop_id)
);

CREATE TABLE gtfs_routes (
    feed_version_id  bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    route_id         text NOT NULL,
    agency_id        text,
    route_short_name text,
    route_long_name  text,
    route_type       integer NOT NULL,
    route_color      text,
    route_text_color text,
    operator_id      text NOT NULL,
    PRIMARY KEY (feed_version_id, route_id)
);

CREATE TABLE gtfs_trips (
    feed_version_id       bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    trip_id               text NOT NULL,
    route_id              text NOT NULL,
    service_id            text NOT NULL,
    trip_headsign         text,
    direction_id          smallint,
    block_id              text,
    shape_id              text,
    wheelchair_accessible smallint,
    operator_id           text NOT NULL,
    PRIMARY KEY (feed_version_id, trip_id)
);

-- Times are seconds since noon minus 12 h of the service day (they may pass 86400).
CREATE TABLE gtfs_stop_times (
    feed_version_id     bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    trip_id             text NOT NULL,
    stop_sequence       integer NOT NULL CHECK (stop_sequence >= 0),
    stop_id             text NOT NULL,
    arrival_s           integer,
    departure_s         integer,
    stop_headsign       text,
    pickup_type         smallint,
    drop_off_type       smallint,
    timepoint           smallint,
    shape_dist_traveled double precision,
    PRIMARY KEY (feed_version_id, trip_id, stop_sequence)
);

CREATE TABLE gtfs_calendar (
    feed_version_id bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    service_id      text NOT NULL,
    monday          smallint NOT NULL,
    tuesday         smallint NOT NULL,
    wednesday       smallint NOT NULL,
    thursday        smallint NOT NULL,
    friday          smallint NOT NULL,
    saturday        smallint NOT NULL,
    sunday          smallint NOT NULL,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    PRIMARY KEY (feed_version_id, service_id)
);

CREATE TABLE gtfs_calendar_dates (
    feed_version_id bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    service_id      text NOT NULL,
    date            date NOT NULL,
    exception_type  smallint NOT NULL CHECK (exception_type IN (1, 2)),
    PRIMARY KEY (feed_version_id, service_id, date)
);

CREATE TABLE gtfs_transfers (
    feed_version_id   bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    from_stop_id      text,
    to_stop_id        text,
    transfer_type     smallint,
    min_transfer_time integer
);
CREATE INDEX gtfs_transfers_version ON gtfs_transfers (feed_version_id);

CREATE TABLE gtfs_shapes (
    feed_version_id   bigint NOT NULL REFERENCES feed_versions (id) ON DELETE CASCADE,
    shape_id          text NOT NULL,
    shape_pt_lat      double precision NOT NULL,
    shape_pt_lon      double precision NOT NULL,
    shape_pt_sequence integer NOT NULL,
    PRIMARY KEY (feed_version_id, shape_id, shape_pt_sequence)
);
