package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/paysync/paysync"
)

func endpointURLTaken() error {
	return &paysync.Error{Code: paysync.ECONFLICT, Resource: "webhook_endpoint", Message: "a webhook endpoint with this url already exists",
		Fields: map[string][]string{"webhook_url": {"value_already_exist"}}}
}

// checkEndpointLimit refuses a new endpoint to an organization that has
// paysync.MaxWebhookEndpoints, with Lago's error. On PostgreSQL it locks
// the organization's row first, so that concurrent creates count in turn;
// SQLite's write transactions are serial already.
func (db *DB) checkEndpointLimit(ctx context.Context, tx *sql.Tx, orgID string) error {
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM organizations WHERE id = $1"+db.forUpdate(), orgID).Scan(&one)
	if err != nil && err != sql.ErrNoRows {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM webhook_endpoints WHERE organization_id = $1", orgID).Scan(&n); err != nil {
		return err
	}
	if n >= paysync.MaxWebhookEndpoints {
		return &paysync.Error{Code: paysync.EINVALID, Resource: "webhook_endpoint", Message: "validation errors",
			Fields: map[string][]string{"base": {"Maximum number of webhook endpoints was reached"}}}
	}
	return nil
}

// UpdateWebhookEndpoint implements paysync.NotifyStore. A URL another of
// the organization's endpoints has is an ECONFLICT.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, e *paysync.WebhookEndpoint) error {
	var taken int
	err := db.ro.QueryRowContext(ctx, "SELECT count(*) FROM webhook_endpoints WHERE organization_id = $1 AND url = $2 AND id <> $3",
		e.OrganizationID, e.URL, e.ID).Scan(&taken)
	if err != nil {
		return err
	}
	if taken > 0 {
		return endpointURLTaken()
	}
	var types any
	if len(e.EventTypes) > 0 {
		b, err := json.Marshal(e.EventTypes) // as the event_types field writes it
		if err != nil {
			return err
		}
		types = string(b)
	}
	err = db.execOne(ctx, endpointNotFound, `UPDATE webhook_endpoints SET url = $3, name = $4, signature_algo = $5, event_types = $6
		WHERE organization_id = $1 AND id = $2`, e.OrganizationID, e.ID, e.URL, e.Name, e.SignatureAlgo, types)
	if err != nil && paysync.ErrorCode(err) != paysync.ENOTFOUND && uniqueViolation(err) {
		// Another update took the url between the check and the write.
		return endpointURLTaken()
	}
	if err != nil && paysync.ErrorCode(err) != paysync.ENOTFOUND {
		return fmt.Errorf("store: update webhook endpoint: %w", err)
	}
	return err
}

// uniqueViolation recognises both drivers' unique-constraint errors
// (PostgreSQL's "violates unique constraint", SQLite's "UNIQUE constraint failed").
func uniqueViolation(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "unique constraint")
}
