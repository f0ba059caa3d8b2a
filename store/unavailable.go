package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/paysync/paysync"
)

// unavailable turns a failure to reach the database into an EUNAVAILABLE
// *paysync.Error wrapping it, which the API answers with 503 and
// Retry-After; any other error, and nil, is returned as it is. It is
// applied where the store talks to database/sql: the connector (every new
// connection), transactions, and the shared query helpers.
func unavailable(err error) error {
	if err == nil || !isUnavailable(err) {
		return err
	}
	var pe *paysync.Error
	if errors.As(err, &pe) {
		return err // classified already, or a domain error
	}
	return paysync.Unavailable("database", err)
}

func isUnavailable(err error) bool {
	var pe *paysync.Error
	if errors.As(err, &pe) {
		return pe.Code == paysync.EUNAVAILABLE
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown: the server is stopping
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now: starting up or shutting down
			"53300": // too_many_connections
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection exceptions
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		// Still locked by another process after busy_timeout.
		switch sqliteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		// database/sql gave up on broken pooled connections.
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		// The server went away in the middle of an answer.
		errors.Is(err, io.ErrUnexpectedEOF),
		// No connection (or no answer) before the caller's deadline; a
		// cancelled request is the client's doing and stays as it is.
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}

// classifyingConnector opens connections through next, classifying a
// failure to connect: it is what a request meets first when the server is
// down, whichever store method it calls.
type classifyingConnector struct{ next driver.Connector }

func (c classifyingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.next.Connect(ctx)
	return conn, unavailable(err)
}

func (c classifyingConnector) Driver() driver.Driver { return c.next.Driver() }

// Close closes next when it holds resources of its own (sql.DB.Close
// calls it).
func (c classifyingConnector) Close() error {
	if cl, ok := c.next.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}
