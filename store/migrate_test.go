package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/store"
)

// TestConcurrentMigrate: processes starting at once on one database each
// migrate; all succeed and the schema is applied once.
func TestConcurrentMigrate(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := testenv.PostgresURL(t)
		migrateConcurrently(t, url)
		raw, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var n int
		if err := raw.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		db := openDB(t, url, 0)
		if want, err := db.MigrationCount(); err != nil || n != want {
			t.Fatalf("schema_migrations rows %d, %v; want %d", n, err, want)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		migrateConcurrently(t, filepath.Join(t.TempDir(), "paysync.db"))
	})
}

func migrateConcurrently(t *testing.T, dsn string) {
	ctx := context.Background()
	const n = 6
	dbs := make([]*store.DB, n)
	for i := range dbs {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	// Idempotent, and the schema works from every handle.
	if err := dbs[0].Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	c, _ := put(t, dbs[0], &paysync.Customer{OrganizationID: "org1", ExternalID: "ext-1"})
	got, err := dbs[n-1].Customer(ctx, "org1", paysync.CustomerKey{ID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	sameCustomer(t, "across handles", got, c)
}

func TestOpenDSN(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct{ dsn, dialect string }{
		{filepath.Join(dir, "plain.db"), store.SQLite},
		{"sqlite://" + filepath.Join(dir, "scheme.db"), store.SQLite},
		{"file:" + filepath.Join(dir, "uri.db") + "?cache=private", store.SQLite},
		{":memory:", store.SQLite},
		{testenv.PostgresURL(t), store.Postgres},
	} {
		db, err := store.Open(ctx, tc.dsn)
		if err != nil {
			t.Fatalf("open %s: %v", tc.dsn, err)
		}
		if db.Dialect() != tc.dialect {
			t.Errorf("%s: dialect %s, want %s", tc.dsn, db.Dialect(), tc.dialect)
		}
		// Each one is a working store, not just an open handle.
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate %s: %v", tc.dsn, err)
		}
		if _, err := db.EnsureOrganization(ctx, "acme"); err != nil {
			t.Fatalf("%s: %v", tc.dsn, err)
		}
		db.Close()
	}
	// The postgresql:// spelling reaches PostgreSQL too; a server that is
	// not there is an error, not a SQLite file named like a URL.
	if _, err := store.Open(ctx, "postgresql://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Fatal("open of an unreachable postgresql:// URL succeeded")
	}
	if _, err := store.Open(ctx, ""); err == nil {
		t.Fatal("open of an empty DSN succeeded")
	}
}
