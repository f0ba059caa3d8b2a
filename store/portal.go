package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paysync/paysync"
)

var _ paysync.PortalStore = (*DB)(nil)

// AddPortalLink implements paysync.PortalStore. Expired links are deleted
// on the way: nothing else reads them.
func (db *DB) AddPortalLink(ctx context.Context, l *paysync.PortalLink) error {
	t := now()
	l.CreatedAt = t
	l.ExpiresAt = normTime(l.ExpiresAt)
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM portal_links WHERE expires_at < $1", t); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO portal_links (token_hash, organization_id, customer_id, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5)`, l.TokenHash, l.OrganizationID, l.CustomerID, l.ExpiresAt, l.CreatedAt)
		if err != nil {
			return fmt.Errorf("store: insert portal link: %w", err)
		}
		return nil
	})
}

// PortalLink implements paysync.PortalStore.
func (db *DB) PortalLink(ctx context.Context, tokenHash string) (*paysync.PortalLink, error) {
	l := &paysync.PortalLink{TokenHash: tokenHash}
	err := db.ro.QueryRowContext(ctx, "SELECT organization_id, customer_id, expires_at, created_at FROM portal_links WHERE token_hash = $1",
		tokenHash).Scan(&l.OrganizationID, &l.CustomerID, timeDest{&l.ExpiresAt}, timeDest{&l.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFoundResource("portal_link", "portal link not found")
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}
