-- The consent audit log names no traveller in clear: each receipt is keyed by
-- HMAC-SHA256(audit key, tenant ‖ 0x00 ‖ traveller_ref), so after an erasure the log still
-- proves that a consent was given or withdrawn, but not by whom. The gateway finds a
-- traveller's receipts (export, erasure) by computing the same HMAC from the reference the
-- app sends. The audit key is one random row here, made once, never rotated (rotating it
-- would unlink the log from the travellers who have not been erased).

CREATE TABLE flow_audit_key (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    key        bytea NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- gen_random_uuid() draws from PostgreSQL's strong random source (122 random bits each);
-- the hash of three gives a full 256-bit key without needing pgcrypto.
INSERT INTO flow_audit_key (key)
    SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text
                             || gen_random_uuid()::text, 'UTF8'));

-- HMAC-SHA256 (RFC 2104) over the built-in sha256(); used here to migrate the existing
-- rows, and kept so that a test checks it agrees with Python's `hmac`.
CREATE FUNCTION flows_hmac_sha256(key bytea, message bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    block bytea := key;
    inner_pad bytea;
    outer_pad bytea;
BEGIN
    IF length(block) > 64 THEN
        block := sha256(block);
    END IF;
    block := block || decode(repeat('00', 64 - length(block)), 'hex');
    inner_pad := block;
    outer_pad := block;
    FOR i IN 0..63 LOOP
        inner_pad := set_byte(inner_pad, i, get_byte(block, i) # 54);  -- 0x36
        outer_pad := set_byte(outer_pad, i, get_byte(block, i) # 92);  -- 0x5c
    END LOOP;
    RETURN sha256(outer_pad || sha256(inner_pad || message));
END;
$$;

ALTER TABLE flow_consent_receipts ADD COLUMN principal bytea;

-- The one rewrite the append-only log ever gets: its own trigger is off for it, inside
-- this migration's transaction.
ALTER TABLE flow_consent_receipts DISABLE TRIGGER flow_consent_receipts_append_only;
UPDATE flow_consent_receipts r
   SET principal = flows_hmac_sha256(
           k.key, convert_to(r.tenant_id, 'UTF8') || '\x00'::bytea
                  || convert_to(r.traveller_ref, 'UTF8'))
  FROM flow_audit_key k;
UPDATE flow_consent_receipts
   SET receipt = jsonb_set(receipt, '{piiPrincipalId}',
                           to_jsonb('hmac-sha256:' || encode(principal, 'hex')))
 WHERE receipt ? 'piiPrincipalId';
ALTER TABLE flow_consent_receipts ENABLE TRIGGER flow_consent_receipts_append_only;

DROP INDEX flow_consent_receipts_traveller;
ALTER TABLE flow_consent_receipts DROP COLUMN traveller_ref;
ALTER TABLE flow_consent_receipts ALTER COLUMN principal SET NOT NULL;
ALTER TABLE flow_consent_receipts
    ADD CONSTRAINT flow_consent_receipts_principal CHECK (length(principal) = 32);
CREATE INDEX flow_consent_receipts_principal
    ON flow_consent_receipts (tenant_id, principal, created_at);
