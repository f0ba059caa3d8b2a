-- Lago's webhook endpoint fields: a name, and the event types it receives
-- (a JSON array; NULL receives every type).
ALTER TABLE webhook_endpoints ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN event_types TEXT;

-- One RSA key pair per organization signs its JWT client webhooks; the
-- first use inserts it (ON CONFLICT DO NOTHING), so concurrent first uses
-- agree on one key.
CREATE TABLE webhook_signing_keys (
	organization_id TEXT PRIMARY KEY,
	private_key     TEXT NOT NULL,
	created_at      TIMESTAMP NOT NULL
);

-- portal_links are customer portal links: only the SHA-256 of the token is
-- kept, so a database read gives no working link.
CREATE TABLE portal_links (
	token_hash      TEXT PRIMARY KEY,
	organization_id TEXT NOT NULL,
	customer_id     TEXT NOT NULL,
	expires_at      TIMESTAMP NOT NULL,
	created_at      TIMESTAMP NOT NULL
);
CREATE INDEX portal_links_expires_at ON portal_links (expires_at);
