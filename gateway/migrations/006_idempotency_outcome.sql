-- An idempotency record keeps how the first request ended in the sales domain's words
-- (its result, or a final error with its code), not an HTTP status: the gateway alone
-- maps errors to statuses. NULL: the first request is still running.
ALTER TABLE idempotency_keys ADD COLUMN outcome text CHECK (outcome IN ('done', 'error'));
UPDATE idempotency_keys
   SET outcome = CASE WHEN status_code < 400 THEN 'done' ELSE 'error' END
 WHERE status_code IS NOT NULL;
ALTER TABLE idempotency_keys DROP COLUMN status_code;
