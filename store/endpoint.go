package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/paysync/paysync"
)

var insertEndpoint = "INSERT INTO webhook_endpoints (" + strings.Join(endpointColumns, ", ") + ") VALUES (" +
	placeholders(1, len(endpointColumns)) + ") ON CONFLICT (organization_id, url) DO NOTHING"

func endpointNotFound() error {
	return notFoundResource("webhook_endpoint", "webhook endpoint not found")
}

// AddWebhookEndpoint implements paysync.EndpointStore, filling ID and
// CreatedAt. A URL the organization already has is an ECONFLICT; an
// organization at paysync.MaxWebhookEndpoints gets Lago's EINVALID.
func (db *DB) AddWebhookEndpoint(ctx context.Context, e *paysync.WebhookEndpoint) error {
	if e.ID == "" {
		e.ID = newID()
	}
	e.CreatedAt = normTime(e.CreatedAt)
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	var added bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.checkEndpointLimit(ctx, tx, e.OrganizationID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, insertEndpoint, values(endpointFields, e)...)
		if err != nil {
			return fmt.Errorf("store: insert webhook endpoint: %w", err)
		}
		n, err := res.RowsAffected()
		added = n > 0
		return err
	})
	if err != nil || added {
		return err
	}
	return endpointURLTaken()
}

// WebhookEndpoints implements paysync.EndpointStore, oldest first.
func (db *DB) WebhookEndpoints(ctx context.Context, orgID string) ([]*paysync.WebhookEndpoint, error) {
	return selectAll(ctx, db.ro, endpointFields, "webhook_endpoints WHERE organization_id = $1 ORDER BY created_at, id", orgID)
}

// WebhookEndpoint implements paysync.EndpointStore; another organization's
// endpoint is not found.
func (db *DB) WebhookEndpoint(ctx context.Context, orgID, id string) (*paysync.WebhookEndpoint, error) {
	return selectOne(ctx, db.ro, endpointFields, endpointNotFound, "webhook_endpoints WHERE organization_id = $1 AND id = $2", orgID, id)
}

// DeleteWebhookEndpoint implements paysync.EndpointStore. Its deliveries
// stay: they carry their own url.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, orgID, id string) error {
	return db.execOne(ctx, endpointNotFound, "DELETE FROM webhook_endpoints WHERE organization_id = $1 AND id = $2", orgID, id)
}

// WebhookHMACKey implements paysync.EndpointStore. The first use stores a
// random UUID only while the key is still empty, so of concurrent first
// uses one wins and all return its key.
func (db *DB) WebhookHMACKey(ctx context.Context, orgID string) (string, error) {
	read := func() (string, error) {
		var key string
		err := db.ro.QueryRowContext(ctx, "SELECT webhook_hmac_key FROM organizations WHERE id = $1", orgID).Scan(&key)
		return key, noRow(err, organizationNotFound)
	}
	// Every delivery signs with the key: the common case is a plain read.
	key, err := read()
	if err != nil || key != "" {
		return key, err
	}
	if _, err := db.rw.ExecContext(ctx, "UPDATE organizations SET webhook_hmac_key = $2 WHERE id = $1 AND webhook_hmac_key = ''",
		orgID, uuid.NewString()); err != nil {
		return "", err
	}
	return read()
}

// SetWebhookHMACKey implements paysync.EndpointStore. An empty key is
// EINVALID: it would mean "none yet" and be replaced on first use.
func (db *DB) SetWebhookHMACKey(ctx context.Context, orgID, key string) error {
	if key == "" {
		return paysync.Errorf(paysync.EINVALID, "a webhook HMAC key is required")
	}
	return db.execOne(ctx, organizationNotFound, "UPDATE organizations SET webhook_hmac_key = $2 WHERE id = $1", orgID, key)
}
