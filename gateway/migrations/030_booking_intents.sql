-- Bookings commit their intent before any operator is called (CONFIRMING, CANCELLING),
-- and every leg records what was asked of its operator until the answer is recorded
-- (RESERVING, CONFIRMING, RELEASING, CANCELLING): a crash between the two leaves a
-- state that the recovery task can finish with the same idempotency keys.
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check CHECK (status IN (
    'PENDING', 'CONFIRMING', 'CONFIRMED', 'CONDITIONAL_CONFIRMED', 'REJECTED', 'EXPIRED',
    'CANCELLING', 'CANCELLED', 'STARTED', 'FINISHED'));
-- The lease on a booking whose operators still owe an answer: until it passes, the process
-- that set it is calling them; afterwards the recovery task (of any process) takes over.
ALTER TABLE bookings ADD COLUMN settle_after timestamptz;
CREATE INDEX bookings_settle_after ON bookings (settle_after) WHERE settle_after IS NOT NULL;
-- The Idempotency-Key that created the booking: a retry whose first attempt lost its answer
-- finds the booking it committed instead of making another.
ALTER TABLE bookings ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX bookings_idempotency_key ON bookings (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE booking_legs DROP CONSTRAINT booking_legs_status_check;
ALTER TABLE booking_legs ADD CONSTRAINT booking_legs_status_check CHECK (status IN (
    'RESERVING', 'PENDING', 'RESERVE_FAILED', 'CONFIRMING', 'CONFIRMED',
    'CONDITIONAL_CONFIRMED', 'RELEASING', 'RELEASED', 'CANCELLING', 'CANCELLED'));

-- An in-progress idempotency claim is a lease: a claim whose owner died (or lost its database
-- connection before it could clean up) is taken over once the lease has passed.
ALTER TABLE idempotency_keys ADD COLUMN locked_until timestamptz NOT NULL DEFAULT now();
