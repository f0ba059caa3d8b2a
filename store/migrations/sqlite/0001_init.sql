-- Organizations are tenants; API keys are stored as hashes only.
CREATE TABLE organizations (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
	hash            TEXT PRIMARY KEY,
	organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	created_at      TIMESTAMP NOT NULL
);
CREATE INDEX api_keys_organization_id ON api_keys (organization_id);

-- customers.organization_id has no foreign key: the organization is the
-- tenant scope every query filters on, and callers may use organizations
-- they manage elsewhere. sequential_id is the rowid, AUTOINCREMENT so that
-- it is never reused: unique and increasing within an organization, with
-- gaps. Timestamps are integer microseconds since the epoch (see Open).
CREATE TABLE customers (
	id                           TEXT NOT NULL UNIQUE,
	organization_id              TEXT NOT NULL,
	external_id                  TEXT NOT NULL,
	sequential_id                INTEGER PRIMARY KEY AUTOINCREMENT,
	name                         TEXT NOT NULL DEFAULT '',
	first_name                   TEXT NOT NULL DEFAULT '',
	last_name                    TEXT NOT NULL DEFAULT '',
	customer_type                TEXT NOT NULL DEFAULT '',
	account_type                 TEXT NOT NULL DEFAULT '',
	legal_name                   TEXT NOT NULL DEFAULT '',
	legal_number                 TEXT NOT NULL DEFAULT '',
	tax_identification_number    TEXT NOT NULL DEFAULT '',
	email                        TEXT NOT NULL DEFAULT '',
	phone                        TEXT NOT NULL DEFAULT '',
	url                          TEXT NOT NULL DEFAULT '',
	logo_url                     TEXT NOT NULL DEFAULT '',
	currency                     TEXT NOT NULL DEFAULT '',
	timezone                     TEXT NOT NULL DEFAULT '',
	net_payment_term             INTEGER,
	finalize_zero_amount_invoice TEXT NOT NULL DEFAULT '',
	tax_codes                    TEXT, -- JSON array of strings
	tax_rate                     REAL,
	billing_line1                TEXT NOT NULL DEFAULT '',
	billing_line2                TEXT NOT NULL DEFAULT '',
	billing_city                 TEXT NOT NULL DEFAULT '',
	billing_state                TEXT NOT NULL DEFAULT '',
	billing_postal_code          TEXT NOT NULL DEFAULT '',
	billing_country              TEXT NOT NULL DEFAULT '',
	shipping_line1               TEXT NOT NULL DEFAULT '',
	shipping_line2               TEXT NOT NULL DEFAULT '',
	shipping_city                TEXT NOT NULL DEFAULT '',
	shipping_state               TEXT NOT NULL DEFAULT '',
	shipping_postal_code         TEXT NOT NULL DEFAULT '',
	shipping_country             TEXT NOT NULL DEFAULT '',
	metadata                     TEXT, -- JSON array of items
	properties                   TEXT, -- JSON object, as given
	invoice_grace_period         INTEGER,
	document_locale              TEXT NOT NULL DEFAULT '',
	provider_payment_methods     TEXT, -- JSON array of strings
	created_at                   TIMESTAMP NOT NULL,
	updated_at                   TIMESTAMP NOT NULL,
	UNIQUE (organization_id, external_id)
);
CREATE INDEX customers_organization_sequential_id ON customers (organization_id, sequential_id);
CREATE INDEX customers_organization_email ON customers (organization_id, lower(email));

-- provider_links is the outbox: one row per customer that has a provider.
CREATE TABLE provider_links (
	id                   TEXT PRIMARY KEY,
	customer_id          TEXT NOT NULL UNIQUE REFERENCES customers (id) ON DELETE CASCADE,
	organization_id      TEXT NOT NULL,
	provider             TEXT NOT NULL,
	connection_code      TEXT NOT NULL DEFAULT '',
	provider_customer_id TEXT NOT NULL DEFAULT '',
	link_only            BOOLEAN NOT NULL DEFAULT FALSE,
	sync_with_provider   BOOLEAN NOT NULL DEFAULT FALSE,
	has_payment_method   BOOLEAN NOT NULL DEFAULT FALSE,
	generation           INTEGER NOT NULL DEFAULT 0,
	state                TEXT NOT NULL,
	last_error           TEXT, -- JSON of the last *paysync.ProviderError
	attempts             INTEGER NOT NULL DEFAULT 0,
	pending_since        TIMESTAMP,
	synced_at            TIMESTAMP,
	updated_at           TIMESTAMP NOT NULL
);
CREATE INDEX provider_links_state_pending_since ON provider_links (state, pending_since);
