-- Revocation, published as the IETF OAuth Token Status List draft has it: each ticket has
-- an index in its operator's list, and a cancelled ticket's bit is set.
CREATE TABLE status_lists (
    operator_id text PRIMARY KEY REFERENCES operators (id),
    -- The next index to hand out. It only grows: an index is never given to two tickets
    -- (and tickets (operator_id, status_idx) is unique besides).
    next_idx    bigint NOT NULL DEFAULT 0 CHECK (next_idx >= 0),
    -- The last signed list and what it was built from, served until either changes.
    token       text,
    token_etag  text,
    signed_at   timestamptz
);

ALTER TABLE tickets
    ADD COLUMN status_idx bigint CHECK (status_idx >= 0),
    ADD COLUMN revoked_at timestamptz,
    ADD CONSTRAINT tickets_status_idx_once UNIQUE (operator_id, status_idx),
    ADD CONSTRAINT tickets_revoked_only_cancelled CHECK (revoked_at IS NULL OR status = 'CANCELLED');

CREATE INDEX tickets_revoked ON tickets (operator_id, status_idx) WHERE status = 'CANCELLED';
