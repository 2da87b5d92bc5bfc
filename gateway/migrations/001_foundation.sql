-- Operators: every transport company the gateway sells for.
CREATE TABLE operators (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    business_id   text,
    contact_email text,
    timezone      text NOT NULL DEFAULT 'Europe/Helsinki',
    sales_channel text NOT NULL DEFAULT 'hosted' CHECK (sales_channel IN ('hosted', 'tomp')),
    terms_url     text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- API keys: a visible prefix plus a secret; only a SHA-256 of the whole key is kept.
-- A `maas` key belongs to a tenant (a MaaS app), an `operator` key to one operator.
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    prefix       text NOT NULL UNIQUE CHECK (prefix ~ '^mk_[a-z]+_[A-Za-z0-9]{8}$'),
    secret_hash  bytea NOT NULL CHECK (length(secret_hash) = 32),
    role         text NOT NULL CHECK (role IN ('maas', 'operator', 'planner', 'admin')),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tenant_id    text CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    operator_id  text REFERENCES operators (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK ((role = 'operator') = (operator_id IS NOT NULL)),
    CHECK ((role = 'maas') = (tenant_id IS NOT NULL))
);
