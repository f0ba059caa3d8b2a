package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/paysync/paysync"
)

// MigrateTo applies the migrations up to version only.
func (db *DB) MigrateTo(ctx context.Context, version int) error { return db.migrate(ctx, version) }

// MigrationCount is the number of migrations of the database's dialect.
func (db *DB) MigrationCount() (int, error) {
	ms, err := db.migrations()
	return len(ms), err
}

// PMCheckedAt reads a link's pm_checked_at, which no domain type carries.
func (db *DB) PMCheckedAt(ctx context.Context, linkID string) (*time.Time, error) {
	var t *time.Time
	err := db.rw.QueryRowContext(ctx, "SELECT pm_checked_at FROM provider_links WHERE id = $1", linkID).Scan(optTimeDest{&t})
	return t, err
}

// MetadataIsCanonical reports whether a customer's metadata column holds
// exactly json.Marshal of the items it reads back as, which the metadata
// filter relies on.
func (db *DB) MetadataIsCanonical(ctx context.Context, orgID, customerID string) (bool, error) {
	var text sql.NullString
	if err := db.rw.QueryRowContext(ctx, "SELECT metadata FROM customers WHERE id = $1", customerID).Scan(&text); err != nil {
		return false, err
	}
	c, err := db.Customer(ctx, orgID, paysync.CustomerKey{ID: customerID})
	if err != nil {
		return false, err
	}
	if len(c.Metadata) == 0 {
		return !text.Valid, nil
	}
	want, err := json.Marshal(toStoredMetadata(c.Metadata))
	return text.String == string(want), err
}

// PageBounds is the LIMIT and OFFSET a filter's page reads.
var PageBounds = pageBounds

// MigrateOnly applies the one migration of version, out of order: tests
// that populate an old schema with today's code apply the migrations that
// today's writes need first (the migrator applies whatever is missing, in
// version order, so the others still run later).
func (db *DB) MigrateOnly(ctx context.Context, version int) error {
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.version != version {
			continue
		}
		return db.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", m.version, m.name, now())
			return err
		})
	}
	return sql.ErrNoRows
}

// Exec runs a statement on the database, for tests that write rows of an
// older schema.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.rw.ExecContext(ctx, query, args...)
	return err
}
