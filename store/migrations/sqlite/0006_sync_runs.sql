-- sync_runs are bulk operations over an organization's customers. The run
-- walks customers by sequential_id up to upper_sequential_id (the highest
-- that matched when it started), last_sequential_id being its cursor.
CREATE TABLE sync_runs (
	id                  TEXT PRIMARY KEY,
	organization_id     TEXT NOT NULL,
	mode                TEXT NOT NULL,
	filter              TEXT NOT NULL, -- JSON of paysync.SyncRunFilter
	state               TEXT NOT NULL,
	last_sequential_id  BIGINT NOT NULL DEFAULT 0,
	upper_sequential_id BIGINT NOT NULL DEFAULT 0,
	total               INTEGER NOT NULL DEFAULT 0,
	done                INTEGER NOT NULL DEFAULT 0,
	synced              INTEGER NOT NULL DEFAULT 0,
	failed              INTEGER NOT NULL DEFAULT 0,
	skipped             INTEGER NOT NULL DEFAULT 0,
	in_flight           INTEGER NOT NULL DEFAULT 0,
	active_seconds      REAL NOT NULL DEFAULT 0,
	resumed_at          TIMESTAMP,
	created_at          TIMESTAMP NOT NULL,
	updated_at          TIMESTAMP NOT NULL,
	finished_at         TIMESTAMP,
	-- import runs: the provider's page cursor and the run's options (JSON).
	provider_cursor     TEXT NOT NULL DEFAULT '',
	walk_done           BOOLEAN NOT NULL DEFAULT FALSE,
	options             TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sync_runs_organization_created_at ON sync_runs (organization_id, created_at);
CREATE INDEX sync_runs_running ON sync_runs (id) WHERE state = 'running';

-- sync_run_items records each customer a run started work for, written in
-- the transaction that starts it: a customer is started once per run,
-- whatever crashes. outcome is '' while the work is in flight.
CREATE TABLE sync_run_items (
	run_id      TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
	customer_id TEXT NOT NULL,
	link_id     TEXT NOT NULL,
	generation  INTEGER NOT NULL,
	refresh     BOOLEAN NOT NULL DEFAULT FALSE,
	started_at  TIMESTAMP NOT NULL,
	outcome     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, customer_id)
);
CREATE INDEX sync_run_items_in_flight ON sync_run_items (run_id, link_id) WHERE outcome = '';

-- import_items records each provider customer an import run saw and what
-- it did with it, written in the transaction that links or creates it.
-- action is link or create while outcome is '' (in flight); the other
-- outcomes are final at once (ambiguous, unmatched, already_linked,
-- conflict, would_link, would_create).
CREATE TABLE import_items (
	run_id               TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
	provider_customer_id TEXT NOT NULL,
	customer_id          TEXT NOT NULL DEFAULT '',
	link_id              TEXT NOT NULL DEFAULT '',
	generation           INTEGER NOT NULL DEFAULT 0,
	action               TEXT NOT NULL DEFAULT '',
	matched_by           TEXT NOT NULL DEFAULT '',
	outcome              TEXT NOT NULL DEFAULT '',
	reason               TEXT NOT NULL DEFAULT '',
	email                TEXT NOT NULL DEFAULT '',
	seq                  BIGINT NOT NULL,
	PRIMARY KEY (run_id, provider_customer_id)
);
CREATE INDEX import_items_in_flight ON import_items (run_id, link_id) WHERE outcome = '';
CREATE INDEX import_items_run_seq ON import_items (run_id, seq);
