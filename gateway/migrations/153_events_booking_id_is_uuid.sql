-- A booking's events name it by its uuid: the booking_events view casts object_id to uuid,
-- so one booking row with another id (a test once wrote 'b-1') failed every later query on
-- the view. The outbox refuses such a row when it is written, where the mistake is made.
ALTER TABLE events ADD CONSTRAINT events_booking_id_is_uuid CHECK (
    object_type <> 'booking'
    OR object_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
);
