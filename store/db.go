// Package store implements paysync.Store on PostgreSQL (pgx through
// database/sql) and SQLite (modernc.org/sqlite, pure Go). Both dialects run
// the same SQL; the few differences (row locks, column types in the
// migrations) are confined to this package.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib" // also registers database/sql driver "pgx"
	_ "modernc.org/sqlite"           // database/sql driver "sqlite"

	"github.com/paysync/paysync"
)

// Dialect names, as Dialect returns them.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DB is paysync's every store (Store, the inbox, the outbox, the payment
// method refreshes) on one PostgreSQL or SQLite database.
type DB struct {
	// rw runs writes and every transaction. On SQLite it holds a single
	// connection: SQLite allows one writer at a time, and queueing writers
	// in the pool is what keeps them from ever failing with SQLITE_BUSY.
	rw *sql.DB
	// ro runs plain reads. On a SQLite file it is a separate pool of
	// query_only connections, so that reads (WAL) never wait for a writer;
	// elsewhere it is rw.
	ro      *sql.DB
	dialect string
}

var (
	_ paysync.Store              = (*DB)(nil)
	_ paysync.PaymentMethodStore = (*DB)(nil)
	_ paysync.InboxStore         = (*DB)(nil)
	_ paysync.NotificationStore  = (*DB)(nil)
	_ paysync.EndpointStore      = (*DB)(nil)
	_ paysync.DeliveryStore      = (*DB)(nil)
)

// Open connects to the database named by dsn: a "postgres://" or
// "postgresql://" URL is PostgreSQL; anything else is a SQLite file path,
// optionally prefixed with "sqlite://" or given as a "file:" URI. Open does
// not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	connector, err := stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	// What sql.Open("pgx", dsn) builds, with connection failures
	// classified as the database being unavailable.
	pool := sql.OpenDB(classifyingConnector{connector})
	// Every API request holds one connection for its upsert transaction;
	// 40 serves a few dozen concurrent requests per process while staying
	// well under PostgreSQL's default max_connections of 100. Idle
	// connections are kept so a burst does not pay for reconnecting.
	pool.SetMaxOpenConns(40)
	pool.SetMaxIdleConns(40)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	// A connection keeps the generic plan of each of its statements for
	// life, made from the statistics of its moment: one made while
	// provider_links was empty (a new install, an import's first minutes)
	// scanned the whole table for each look-up by id once it held 100,000
	// links, wherever statistics lag (autoanalyze behind, or off). Renewing
	// connections each minute bounds that; planning every statement for
	// its arguments (plan_cache_mode) halved the bulk sync rate.
	pool.SetConnMaxLifetime(time.Minute)
	db := &DB{rw: pool, ro: pool, dialect: Postgres}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		// At start-up the cause is the message, not "try again later".
		var pe *paysync.Error
		if errors.As(err, &pe) && pe.Err != nil {
			err = pe.Err
		}
		return nil, fmt.Errorf("store: connect postgres: %w", err)
	}
	return db, nil
}

// sqliteParams apply to every SQLite connection. Times are stored as
// integer microseconds since the epoch, so that they compare correctly in
// SQL and read back exactly as written.
const sqliteParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_time_integer_format=unix_micro&_inttotime=1"

func openSQLite(ctx context.Context, dsn string) (*DB, error) {
	name := strings.TrimPrefix(dsn, "sqlite://")
	if name == "" {
		return nil, errors.New("store: empty sqlite path")
	}
	sep := "?"
	if strings.Contains(name, "?") {
		sep = "&"
	}
	// _txlock=immediate takes the write lock at BEGIN, so a transaction
	// that reads then writes cannot fail halfway when another process
	// holds the lock; it waits busy_timeout instead.
	rwDSN := name + sep + sqliteParams + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	rw, err := sql.Open("sqlite", rwDSN)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	rw.SetMaxOpenConns(1)
	rw.SetMaxIdleConns(1)
	rw.SetConnMaxLifetime(0)
	db := &DB{rw: rw, ro: rw, dialect: SQLite}
	// The writer connects first: it creates the file and switches it to WAL
	// before any reader opens it.
	if err := rw.PingContext(ctx); err != nil {
		rw.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", name, err)
	}
	if isMemory(name) {
		// Every connection to :memory: is a database of its own.
		return db, nil
	}
	ro, err := sql.Open("sqlite", name+sep+sqliteParams+"&_pragma=query_only(1)")
	if err != nil {
		rw.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	n := max(4, runtime.NumCPU())
	ro.SetMaxOpenConns(n)
	ro.SetMaxIdleConns(n)
	db.ro = ro
	if err := ro.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", name, err)
	}
	return db, nil
}

func isMemory(name string) bool {
	return strings.Contains(name, ":memory:") || strings.Contains(name, "mode=memory")
}

// SQL is the pool writes go through, for the sandbox's own state table
// (package sandbox/state), which lives beside paysync's.
func (db *DB) SQL() *sql.DB { return db.rw }

// Dialect returns "postgres" or "sqlite".
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.rw.PingContext(ctx); err != nil {
		return err
	}
	if db.ro != db.rw {
		return db.ro.PingContext(ctx)
	}
	return nil
}

// Close closes every connection.
func (db *DB) Close() error {
	err := db.rw.Close()
	if db.ro != db.rw {
		err = errors.Join(err, db.ro.Close())
	}
	return err
}

// forUpdate is the row-lock clause of a SELECT inside a write transaction.
// SQLite has none and needs none: its transactions take the database's
// write lock at BEGIN.
func (db *DB) forUpdate() string {
	if db.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// inTx runs fn in a write transaction, committing when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.rw.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return unavailable(err)
	}
	return unavailable(tx.Commit())
}

// now is the store's clock: UTC at microsecond precision, which both
// dialects keep exactly.
func now() time.Time { return normTime(time.Now()) }

func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// execOne runs a statement that must touch a row, answering missing's
// error when it touched none.
func (db *DB) execOne(ctx context.Context, missing func() error, query string, args ...any) error {
	res, err := db.rw.ExecContext(ctx, query, args...)
	if err != nil {
		return unavailable(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return missing()
	}
	return nil
}

func notFoundResource(resource, message string) error {
	return &paysync.Error{Code: paysync.ENOTFOUND, Resource: resource, Message: message}
}

// noRow answers missing's error for sql.ErrNoRows, and err otherwise
// (classified, see unavailable).
func noRow(err error, missing func() error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return missing()
	}
	return unavailable(err)
}

// absent is the missing row's answer where none is no error.
func absent() error { return nil }

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// selectOne reads the row "SELECT <fields> FROM <from>" finds, answering
// missing's error when there is none (nil, nil when missing answers nil).
func selectOne[R any](ctx context.Context, q querier, fields []field[R], missing func() error, from string, args ...any) (*R, error) {
	r := new(R)
	err := q.QueryRowContext(ctx, "SELECT "+strings.Join(names(fields), ", ")+" FROM "+from, args...).Scan(dests(fields, r)...)
	if err != nil {
		return nil, noRow(err, missing)
	}
	return r, nil
}

// selectAll reads every row "SELECT <fields> FROM <from>" finds.
func selectAll[R any](ctx context.Context, q querier, fields []field[R], from string, args ...any) ([]*R, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+strings.Join(names(fields), ", ")+" FROM "+from, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []*R
	for rows.Next() {
		r := new(R)
		if err := rows.Scan(dests(fields, r)...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, unavailable(rows.Err())
}

// ids runs a query of one text column.
func (db *DB) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	return queryIDs(ctx, db.ro, query, args...)
}

// queryIDs runs a query of one text column on q.
func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, unavailable(rows.Err())
}
