// Package statetest gives the emulators' tests a fresh state database of
// each kind paysync runs on.
package statetest

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/state"
)

// EachDB runs test on a fresh SQLite file and a fresh PostgreSQL
// database, both with the state table.
func EachDB(t *testing.T, test func(t *testing.T, db *sql.DB)) {
	t.Helper()
	for _, tc := range []struct {
		driver string
		dsn    func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "state.db") }},
		{"pgx", func(t *testing.T) string { return testenv.PostgresURL(t) }},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			db, err := sql.Open(tc.driver, tc.dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := state.Open(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			test(t, db)
		})
	}
}

// Boot builds an emulator on db's state of kind, as a process starting
// again would, and serves it; a state write that fails fails the test.
func Boot[E http.Handler](t *testing.T, db *sql.DB, kind string, newWithState func(context.Context, *state.Store) (E, error)) (E, *httptest.Server) {
	t.Helper()
	st := state.New(db, kind)
	st.OnError = func(err error) { t.Error(err) }
	emu, err := newWithState(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv
}
