-- Conditions of sale as data: each operator sets them for all its products (product_id '')
-- and per product; a NULL field falls back on the wider setting (see sales/conditions.py).
CREATE TABLE operator_conditions (
    operator_id           text NOT NULL REFERENCES operators (id),
    product_id            text NOT NULL DEFAULT '',
    cancellable           boolean,
    refundable            boolean,
    refundable_before_min integer CHECK (refundable_before_min >= 0),
    refund_fee_minor      integer CHECK (refund_fee_minor >= 0),
    validity_min          integer CHECK (validity_min > 0),
    sold_alone            boolean,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operator_id, product_id)
);

-- A refund says why it is what it is ("refundable until ..., less the 1.00 EUR fee").
ALTER TABLE bookings ADD COLUMN refund_reason text;
