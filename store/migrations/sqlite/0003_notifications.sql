-- notifications is the outbox of client webhooks: a row is written in the
-- transaction of the change it announces, then turned into deliveries.
CREATE TABLE notifications (
	id              TEXT PRIMARY KEY,
	organization_id TEXT NOT NULL,
	customer_id     TEXT NOT NULL,
	webhook_type    TEXT NOT NULL,
	checkout_url    TEXT NOT NULL DEFAULT '',
	created_at      TIMESTAMP NOT NULL,
	processed_at    TIMESTAMP
);
CREATE INDEX notifications_pending ON notifications (created_at, id) WHERE processed_at IS NULL;
CREATE INDEX notifications_customer_pending ON notifications (customer_id, created_at) WHERE processed_at IS NULL;
