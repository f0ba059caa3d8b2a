package store

import (
	"context"
	"time"
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
