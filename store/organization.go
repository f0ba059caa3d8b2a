package store

import (
	"context"
	"database/sql"

	"github.com/paysync/paysync"
)

// EnsureOrganization implements paysync.Store. Several processes may
// start at once and ensure the same organization: the insert yields to the
// first, and everyone reads the row that won.
func (db *DB) EnsureOrganization(ctx context.Context, name string) (*paysync.Organization, error) {
	if name == "" {
		return nil, paysync.Errorf(paysync.EINVALID, "an organization name is required")
	}
	if _, err := db.rw.ExecContext(ctx, "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
		newID(), name, now()); err != nil {
		return nil, err
	}
	return scanOrganization(db.ro.QueryRowContext(ctx, "SELECT id, name, created_at FROM organizations WHERE name = $1", name))
}

// OrganizationByName returns the organization named name; an unknown name
// is an ENOTFOUND *paysync.Error.
func (db *DB) OrganizationByName(ctx context.Context, name string) (*paysync.Organization, error) {
	o, err := scanOrganization(db.ro.QueryRowContext(ctx, "SELECT id, name, created_at FROM organizations WHERE name = $1", name))
	return o, noRow(err, organizationNotFound)
}

// AddAPIKey implements paysync.Store. A hash already held by another
// organization is an ECONFLICT.
func (db *DB) AddAPIKey(ctx context.Context, orgID, keyHash string) error {
	res, err := db.rw.ExecContext(ctx, "INSERT INTO api_keys (hash, organization_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
		keyHash, orgID, now())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var owner string
	if err := db.rw.QueryRowContext(ctx, "SELECT organization_id FROM api_keys WHERE hash = $1", keyHash).Scan(&owner); err != nil {
		return err
	}
	if owner != orgID {
		return &paysync.Error{Code: paysync.ECONFLICT, Resource: "api_key", Message: "the API key belongs to another organization"}
	}
	return nil
}

// RevokeAPIKey implements paysync.Store.
func (db *DB) RevokeAPIKey(ctx context.Context, keyHash string) error {
	return db.execOne(ctx, func() error {
		return notFoundResource("api_key", "no such API key")
	}, "DELETE FROM api_keys WHERE hash = $1", keyHash)
}

// CountAPIKeys implements paysync.Store.
func (db *DB) CountAPIKeys(ctx context.Context, orgID string) (int, error) {
	var n int
	err := db.ro.QueryRowContext(ctx, "SELECT COUNT(*) FROM api_keys WHERE organization_id = $1", orgID).Scan(&n)
	return n, err
}

// OrganizationByAPIKey implements paysync.Store; an unknown hash is an
// EUNAUTHORIZED *paysync.Error.
func (db *DB) OrganizationByAPIKey(ctx context.Context, keyHash string) (*paysync.Organization, error) {
	o, err := scanOrganization(db.ro.QueryRowContext(ctx,
		"SELECT o.id, o.name, o.created_at FROM api_keys k JOIN organizations o ON o.id = k.organization_id WHERE k.hash = $1", keyHash))
	return o, noRow(err, func() error {
		return &paysync.Error{Code: paysync.EUNAUTHORIZED, Resource: "api_key", Message: "unknown API key"}
	})
}

func scanOrganization(row *sql.Row) (*paysync.Organization, error) {
	o := &paysync.Organization{}
	if err := row.Scan(&o.ID, &o.Name, timeDest{&o.CreatedAt}); err != nil {
		return nil, err
	}
	return o, nil
}

func organizationNotFound() error {
	return &paysync.Error{Code: paysync.ENOTFOUND, Resource: "organization", Message: "organization not found"}
}
