package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paysync/paysync"
)

var _ paysync.NotifyStore = (*DB)(nil)

var (
	insertInboxEvent = "INSERT INTO inbox_events (" + strings.Join(inboxColumns, ", ") + ") VALUES (" +
		placeholders(1, len(inboxColumns)) + ") ON CONFLICT (organization_id, provider, connection_code, event_id) DO NOTHING"
	insertEndpoint = "INSERT INTO webhook_endpoints (" + strings.Join(endpointColumns, ", ") + ") VALUES (" +
		placeholders(1, len(endpointColumns)) + ") ON CONFLICT (organization_id, url) DO NOTHING"
	insertDelivery = "INSERT INTO webhook_deliveries (" + strings.Join(deliveryColumns, ", ") + ") VALUES (" +
		placeholders(1, len(deliveryColumns)) + ")"
)

func notFoundResource(resource, message string) error {
	return &paysync.Error{Code: paysync.ENOTFOUND, Resource: resource, Message: message}
}

// AddInboxEvents implements paysync.NotifyStore. All events are inserted in
// one transaction; an event already stored, or repeated within events,
// is skipped, and only the newly stored ones are returned, with ID and
// ReceivedAt filled.
func (db *DB) AddInboxEvents(ctx context.Context, events []paysync.InboxEvent) ([]paysync.InboxEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	t := now()
	var added []paysync.InboxEvent
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range events {
			if e.ID == "" {
				e.ID = newID()
			}
			e.ReceivedAt = normTime(e.ReceivedAt)
			if e.ReceivedAt.IsZero() {
				e.ReceivedAt = t
			}
			if e.ProcessedAt != nil {
				p := normTime(*e.ProcessedAt)
				e.ProcessedAt = &p
			}
			res, err := tx.ExecContext(ctx, insertInboxEvent, values(inboxFields, &e)...)
			if err != nil {
				return fmt.Errorf("store: insert inbox event: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n > 0 {
				added = append(added, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// InboxEvent implements paysync.NotifyStore.
func (db *DB) InboxEvent(ctx context.Context, id string) (*paysync.InboxEvent, error) {
	e := &paysync.InboxEvent{}
	err := db.ro.QueryRowContext(ctx, "SELECT "+strings.Join(inboxColumns, ", ")+" FROM inbox_events WHERE id = $1", id).
		Scan(dests(inboxFields, e)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFoundResource("inbox_event", "inbox event not found")
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// MarkInboxProcessed implements paysync.NotifyStore. Marking twice keeps
// the first time.
func (db *DB) MarkInboxProcessed(ctx context.Context, id string) error {
	res, err := db.rw.ExecContext(ctx, "UPDATE inbox_events SET processed_at = $2 WHERE id = $1 AND processed_at IS NULL", id, now())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var one int
	err = db.rw.QueryRowContext(ctx, "SELECT 1 FROM inbox_events WHERE id = $1", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFoundResource("inbox_event", "inbox event not found")
	}
	return err
}

// UnprocessedInbox implements paysync.NotifyStore: ids of events received
// before `before` and not processed, oldest first; a limit of 0 or less
// means 100.
func (db *DB) UnprocessedInbox(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.ids(ctx, `SELECT id FROM inbox_events WHERE processed_at IS NULL AND received_at < $1
		ORDER BY received_at, id LIMIT $2`, normTime(before), limit)
}

// UnsentDeliveries implements paysync.NotifyStore: deliveries created
// before the given time that no attempt has reached yet, oldest first; a
// limit of 0 or less means 100.
func (db *DB) UnsentDeliveries(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.ids(ctx, `SELECT id FROM webhook_deliveries WHERE attempts = 0 AND delivered_at IS NULL AND created_at < $1
		ORDER BY created_at, id LIMIT $2`, normTime(before), limit)
}

// ids runs a query of one text column.
func (db *DB) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.ro.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
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
	return out, rows.Err()
}

func endpointNotFound() error {
	return notFoundResource("webhook_endpoint", "webhook endpoint not found")
}

// AddWebhookEndpoint implements paysync.NotifyStore, filling ID and
// CreatedAt. A URL the organization already has is an ECONFLICT; an
// organization at paysync.MaxWebhookEndpoints gets Lago's EINVALID.
func (db *DB) AddWebhookEndpoint(ctx context.Context, e *paysync.WebhookEndpoint) error {
	if e.ID == "" {
		e.ID = newID()
	}
	e.CreatedAt = normTime(e.CreatedAt)
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	var added bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.checkEndpointLimit(ctx, tx, e.OrganizationID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, insertEndpoint, values(endpointFields, e)...)
		if err != nil {
			return fmt.Errorf("store: insert webhook endpoint: %w", err)
		}
		n, err := res.RowsAffected()
		added = n > 0
		return err
	})
	if err != nil || added {
		return err
	}
	return endpointURLTaken()
}

// WebhookEndpoints implements paysync.NotifyStore, oldest first.
func (db *DB) WebhookEndpoints(ctx context.Context, orgID string) ([]*paysync.WebhookEndpoint, error) {
	rows, err := db.ro.QueryContext(ctx, "SELECT "+strings.Join(endpointColumns, ", ")+
		" FROM webhook_endpoints WHERE organization_id = $1 ORDER BY created_at, id", orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*paysync.WebhookEndpoint
	for rows.Next() {
		e := &paysync.WebhookEndpoint{}
		if err := rows.Scan(dests(endpointFields, e)...); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// WebhookEndpoint implements paysync.NotifyStore; another organization's
// endpoint is not found.
func (db *DB) WebhookEndpoint(ctx context.Context, orgID, id string) (*paysync.WebhookEndpoint, error) {
	e := &paysync.WebhookEndpoint{}
	err := db.ro.QueryRowContext(ctx, "SELECT "+strings.Join(endpointColumns, ", ")+
		" FROM webhook_endpoints WHERE organization_id = $1 AND id = $2", orgID, id).Scan(dests(endpointFields, e)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, endpointNotFound()
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// DeleteWebhookEndpoint implements paysync.NotifyStore. Its deliveries
// stay: they carry their own url.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, orgID, id string) error {
	return db.execOne(ctx, endpointNotFound, "DELETE FROM webhook_endpoints WHERE organization_id = $1 AND id = $2", orgID, id)
}

// maxLastError bounds last_error, in characters: a receiver's error text
// is for diagnosis, and an endless one must not bloat every row.
const maxLastError = 1000

// AddDeliveries implements paysync.NotifyStore, in one transaction,
// filling ID and CreatedAt.
func (db *DB) AddDeliveries(ctx context.Context, ds []*paysync.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	prepareDeliveries(ds)
	return db.inTx(ctx, func(tx *sql.Tx) error { return insertDeliveries(ctx, tx, ds) })
}

// prepareDeliveries fills ids and times, and normalises what the columns
// would change, so that the values read back equal.
func prepareDeliveries(ds []*paysync.Delivery) {
	t := now()
	for _, d := range ds {
		if d.ID == "" {
			d.ID = newID()
		}
		d.CreatedAt = normTime(d.CreatedAt)
		if d.CreatedAt.IsZero() {
			d.CreatedAt = t
		}
		if d.DeliveredAt != nil {
			dt := normTime(*d.DeliveredAt)
			d.DeliveredAt = &dt
		}
		if len(d.Body) == 0 {
			d.Body = nil // as it reads back
		}
		d.LastError = errorText(d.LastError, maxLastError)
	}
}

func insertDeliveries(ctx context.Context, tx *sql.Tx, ds []*paysync.Delivery) error {
	for _, d := range ds {
		if _, err := tx.ExecContext(ctx, insertDelivery, values(deliveryFields, d)...); err != nil {
			return fmt.Errorf("store: insert delivery: %w", err)
		}
	}
	return nil
}

func deliveryNotFound() error {
	return notFoundResource("webhook_delivery", "webhook delivery not found")
}

// Delivery implements paysync.NotifyStore.
func (db *DB) Delivery(ctx context.Context, id string) (*paysync.Delivery, error) {
	d := &paysync.Delivery{}
	err := db.ro.QueryRowContext(ctx, "SELECT "+strings.Join(deliveryColumns, ", ")+" FROM webhook_deliveries WHERE id = $1", id).
		Scan(dests(deliveryFields, d)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, deliveryNotFound()
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// RecordDeliveryAttempt implements paysync.NotifyStore. delivered_at is
// set by the first successful attempt and kept by any later one.
func (db *DB) RecordDeliveryAttempt(ctx context.Context, id string, status int, errText string, delivered bool) error {
	var deliveredAt any
	if delivered {
		deliveredAt = now()
	}
	return db.execOne(ctx, deliveryNotFound, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3,
		delivered_at = COALESCE(delivered_at, $4) WHERE id = $1`, id, status, errorText(errText, maxLastError), deliveredAt)
}

// Deliveries implements paysync.NotifyStore, newest first; a limit of 0 or
// less means 100.
func (db *DB) Deliveries(ctx context.Context, orgID string, limit int) ([]*paysync.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.ro.QueryContext(ctx, "SELECT "+strings.Join(deliveryColumns, ", ")+
		" FROM webhook_deliveries WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2", orgID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*paysync.Delivery
	for rows.Next() {
		d := &paysync.Delivery{}
		if err := rows.Scan(dests(deliveryFields, d)...); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// errorText makes a receiver's error text storable: valid UTF-8 without
// NUL bytes (PostgreSQL's text rejects both), at most n characters.
func errorText(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}
