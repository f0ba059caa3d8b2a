package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrations holds one folder per dialect of files named
// <version>_<name>.sql, applied in version order.
//
//go:embed migrations
var migrations embed.FS

// migrateLock is the PostgreSQL advisory lock key that serializes Migrate
// across processes ("paysync" in ASCII).
const migrateLock int64 = 0x70617973796e63

type migration struct {
	version int
	name    string
	sql     string
}

func (db *DB) migrations() ([]migration, error) {
	dir := path.Join("migrations", db.dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		v, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(v)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration %s: want <version>_<name>.sql", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: version, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate brings the schema up to date. It is idempotent, and safe when
// several processes migrate one database at once: all pending migrations
// run in one transaction that first takes a lock (an advisory lock on
// PostgreSQL, the write lock on SQLite), so a second process waits and then
// finds nothing left to do.
func (db *DB) Migrate(ctx context.Context) error { return db.migrate(ctx, 0) }

// migrate applies the pending migrations up to version upTo, or all of
// them when upTo is 0; tests stop early to upgrade a populated database.
func (db *DB) migrate(ctx context.Context, upTo int) error {
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	timestamp := "TIMESTAMP"
	if db.dialect == Postgres {
		timestamp = "TIMESTAMPTZ"
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock); err != nil {
				return fmt.Errorf("store: migrate lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at "+
			timestamp+" NOT NULL)"); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range ms {
			if applied[m.version] || (upTo > 0 && m.version > upTo) {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, now()); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// MigrationState is one migration and when it was applied; AppliedAt is
// zero for a pending one.
type MigrationState struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

// MigrationStatus lists every migration, in order, with when it was
// applied. It changes nothing: a database never migrated has them all
// pending.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	ms, err := db.migrations()
	if err != nil {
		return nil, err
	}
	exists := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	if db.dialect == Postgres {
		exists = "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'"
	}
	var n int
	if err := db.ro.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return nil, err
	}
	applied := map[int]time.Time{}
	if n > 0 {
		rows, err := db.ro.QueryContext(ctx, "SELECT version, applied_at FROM schema_migrations")
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var at time.Time
			if err := rows.Scan(&v, timeDest{&at}); err != nil {
				return nil, err
			}
			applied[v] = at
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]MigrationState, 0, len(ms))
	for _, m := range ms {
		out = append(out, MigrationState{Version: m.version, Name: m.name, AppliedAt: applied[m.version]})
	}
	return out, nil
}
