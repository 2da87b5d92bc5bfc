-- GTFS-Realtime sources: the URLs the gateway polls for each operator, and how often.
-- Pushed feeds need no row; what was received lives in Redis (it may be lost and re-sent).
CREATE TABLE realtime_sources (
    operator_id            text PRIMARY KEY REFERENCES operators (id) ON DELETE CASCADE,
    vehicle_positions_url  text CHECK (vehicle_positions_url ~ '^https?://'),
    trip_updates_url       text CHECK (trip_updates_url ~ '^https?://'),
    alerts_url             text CHECK (alerts_url ~ '^https?://'),
    poll_interval_s        double precision NOT NULL DEFAULT 30
                           CHECK (poll_interval_s >= 0.2 AND poll_interval_s <= 3600),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
