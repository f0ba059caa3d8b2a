package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paysync/paysync"
)

var insertDelivery = "INSERT INTO webhook_deliveries (" + strings.Join(deliveryColumns, ", ") + ") VALUES (" +
	placeholders(1, len(deliveryColumns)) + ")"

// maxLastError bounds last_error, in characters: a receiver's error text
// is for diagnosis, and an endless one must not bloat every row.
const maxLastError = 1000

// AddDeliveries implements paysync.DeliveryStore, in one transaction,
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

// Delivery implements paysync.DeliveryStore.
func (db *DB) Delivery(ctx context.Context, id string) (*paysync.Delivery, error) {
	return selectOne(ctx, db.ro, deliveryFields, deliveryNotFound, "webhook_deliveries WHERE id = $1", id)
}

// RecordDeliveryAttempt implements paysync.DeliveryStore. delivered_at is
// set by the first successful attempt and kept by any later one.
func (db *DB) RecordDeliveryAttempt(ctx context.Context, id string, status int, errText string, delivered bool) error {
	var deliveredAt any
	if delivered {
		deliveredAt = now()
	}
	return db.execOne(ctx, deliveryNotFound, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3,
		delivered_at = COALESCE(delivered_at, $4) WHERE id = $1`, id, status, errorText(errText, maxLastError), deliveredAt)
}

// UnsentDeliveries implements paysync.DeliveryStore: deliveries created
// before the given time that no attempt has reached yet, oldest first; a
// limit of 0 or less means 100.
func (db *DB) UnsentDeliveries(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.ids(ctx, `SELECT id FROM webhook_deliveries WHERE attempts = 0 AND delivered_at IS NULL AND created_at < $1
		ORDER BY created_at, id LIMIT $2`, normTime(before), limit)
}

// Deliveries implements paysync.DeliveryStore, newest first; a limit of 0
// or less means 100.
func (db *DB) Deliveries(ctx context.Context, orgID string, limit int) ([]*paysync.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	return selectAll(ctx, db.ro, deliveryFields, "webhook_deliveries WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2", orgID, limit)
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
