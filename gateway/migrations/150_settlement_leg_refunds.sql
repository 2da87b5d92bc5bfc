-- A refund line per sold leg whose money went back, written when the leg becomes CANCELLED
-- (in the transaction that records its operator's answer), not only when the whole booking
-- does: when another operator refuses its part of a cancel, the booking stays CONFIRMED
-- but the legs that were cancelled were refunded, and the ledger must say so.
-- The leg's `refund_minor` (what its conditions, or its operator's cancel, give back) was
-- stored with the intent to cancel; the rest of the price is the fee the operator keeps.
CREATE FUNCTION settlement_leg_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO settlement_entries (kind, booking_id, leg_id, tenant_id, operator_id, currency,
                                    amount_minor, fee_minor, period)
        SELECT 'refund', e.booking_id, e.leg_id, e.tenant_id, e.operator_id, e.currency,
               least(coalesce(NEW.refund_minor, 0), e.amount_minor),
               e.amount_minor - least(coalesce(NEW.refund_minor, 0), e.amount_minor), ''
        FROM settlement_entries e
        WHERE e.leg_id = NEW.id AND e.kind = 'sale'
        ON CONFLICT (leg_id, kind) DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER settlement_leg_cancelled AFTER UPDATE OF status ON booking_legs
    FOR EACH ROW WHEN (NEW.status = 'CANCELLED' AND OLD.status IS DISTINCT FROM 'CANCELLED')
    EXECUTE FUNCTION settlement_leg_cancelled();

-- Every sold leg of a cancelled booking was cancelled first: the leg trigger wrote its line.
DROP TRIGGER settlement_booking_cancelled ON bookings;
DROP FUNCTION settlement_booking_cancelled();
