-- Keys are published before they sign. A rotation announces the next key a lead time
-- before it signs (`signs_from`), and the key it replaces signs until then: `retired_at`
-- is when a key stops signing, and may lie in the future. A key stays in the JWKS while
-- it signs, before it signs, and while a ticket it signed is still valid.
ALTER TABLE signing_keys ADD COLUMN signs_from timestamptz;
UPDATE signing_keys SET signs_from = created_at;
ALTER TABLE signing_keys
    ALTER COLUMN signs_from SET NOT NULL,
    ALTER COLUMN signs_from SET DEFAULT now(),
    ADD CONSTRAINT signing_keys_retire_after_start CHECK (retired_at IS NULL OR retired_at >= signs_from),
    DROP COLUMN publish_until;

-- The JWKS says whose key each is: an inspector checks that a ticket's issuer owns its key.
UPDATE signing_keys SET public_jwk = public_jwk || jsonb_build_object('iss', operator_id);

-- Which retired keys still have valid tickets (the JWKS asks on every build).
CREATE INDEX tickets_kid_valid_until ON tickets (kid, valid_until);
