-- A booking leg may hold seats of several limits at once (its departure and its product):
-- one row per limit it holds. The seats held before this migration move here.
CREATE TABLE capacity_holds (
    booking_id  uuid NOT NULL REFERENCES bookings (id),
    capacity_id bigint NOT NULL REFERENCES capacities (id),
    position    integer NOT NULL,
    seats       integer NOT NULL CHECK (seats > 0),
    PRIMARY KEY (booking_id, position, capacity_id)
);
INSERT INTO capacity_holds (booking_id, capacity_id, position, seats)
    SELECT booking_id, capacity_id, position, seats FROM booking_legs
     WHERE capacity_id IS NOT NULL AND seats > 0;
UPDATE booking_legs SET seats = 0 WHERE capacity_id IS NOT NULL AND seats > 0;

-- Offers past their validity are purged; this finds them.
CREATE INDEX offers_valid_until ON offers (valid_until);
