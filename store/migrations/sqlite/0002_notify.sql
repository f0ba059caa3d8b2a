-- inbox_events holds verified provider webhook events, stored before the
-- provider is answered; the unique key makes redeliveries no-ops.
CREATE TABLE inbox_events (
	id                   TEXT PRIMARY KEY,
	organization_id      TEXT NOT NULL,
	provider             TEXT NOT NULL,
	connection_code      TEXT NOT NULL DEFAULT '',
	event_id             TEXT NOT NULL,
	type                 TEXT NOT NULL DEFAULT '',
	provider_customer_id TEXT NOT NULL DEFAULT '',
	resource_id          TEXT NOT NULL DEFAULT '',
	received_at          TIMESTAMP NOT NULL,
	processed_at         TIMESTAMP,
	UNIQUE (organization_id, provider, connection_code, event_id)
);
-- Partial: processed events, the vast majority, stay out of it.
CREATE INDEX inbox_events_unprocessed ON inbox_events (received_at, id) WHERE processed_at IS NULL;

-- pm_checked_at is when the stored has_payment_method was read at the
-- provider: a refresh that read earlier never overwrites a later one.
ALTER TABLE provider_links ADD COLUMN pm_checked_at TIMESTAMP;
CREATE INDEX provider_links_provider_customer ON provider_links (organization_id, provider, connection_code, provider_customer_id);
-- Serves LinksToRefresh; only synced links without a payment method are in
-- it. Ascending order puts NULLs first, as NULLS FIRST does on PostgreSQL.
CREATE INDEX provider_links_refresh ON provider_links (COALESCE(pm_checked_at, synced_at), id)
	WHERE state = 'synced' AND has_payment_method = FALSE;

-- The key signing client webhooks; '' until first use creates it.
ALTER TABLE organizations ADD COLUMN webhook_hmac_key TEXT NOT NULL DEFAULT '';

-- webhook_endpoints.organization_id has no foreign key, like customers'.
CREATE TABLE webhook_endpoints (
	id              TEXT PRIMARY KEY,
	organization_id TEXT NOT NULL,
	url             TEXT NOT NULL,
	signature_algo  TEXT NOT NULL DEFAULT '',
	created_at      TIMESTAMP NOT NULL,
	UNIQUE (organization_id, url)
);

-- webhook_deliveries keeps its own copy of the url and no foreign key to
-- the endpoint: the history outlives a deleted endpoint.
CREATE TABLE webhook_deliveries (
	id              TEXT PRIMARY KEY,
	organization_id TEXT NOT NULL,
	endpoint_id     TEXT NOT NULL,
	url             TEXT NOT NULL,
	webhook_type    TEXT NOT NULL,
	body            BLOB NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	delivered_at    TIMESTAMP,
	created_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_organization_created_at ON webhook_deliveries (organization_id, created_at, id);
