-- The view cast every event's object_id to uuid; a query on booking_id could be planned
-- to test rows of other object types first, and a TOMP reference ("b-1") then failed
-- the cast. CASE keeps the cast to booking rows whatever the plan; the INSTEAD OF
-- trigger stays (CREATE OR REPLACE keeps it).
CREATE OR REPLACE VIEW booking_events AS
    SELECT id,
           CASE WHEN object_type = 'booking' THEN object_id::uuid END AS booking_id,
           tenant_id, type, payload, created_at
    FROM events WHERE object_type = 'booking';
