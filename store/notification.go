package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

var insertNotification = "INSERT INTO notifications (" + strings.Join(notificationColumns, ", ") + ") VALUES (" +
	placeholders(1, len(notificationColumns)) + ")"

// notifyLink records a notification about the customer of a link, inside
// the transaction of the change it announces — if its organization has a
// webhook endpoint at all: an endpoint added later is told of later changes.
func notifyLink(ctx context.Context, tx *sql.Tx, linkID, webhookType string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO notifications (id, organization_id, customer_id, webhook_type, checkout_url, created_at)
		SELECT $1, l.organization_id, l.customer_id, $2, '', $3 FROM provider_links l WHERE l.id = $4
		AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.organization_id = l.organization_id)`,
		newID(), webhookType, now(), linkID)
	if err != nil {
		return fmt.Errorf("store: record notification: %w", err)
	}
	return nil
}

// AddNotification implements paysync.NotificationStore.
func (db *DB) AddNotification(ctx context.Context, n *paysync.Notification) error {
	if n.ID == "" {
		n.ID = newID()
	}
	n.CreatedAt = normTime(n.CreatedAt)
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now()
	}
	if _, err := db.rw.ExecContext(ctx, insertNotification, values(notificationFields, n)...); err != nil {
		return fmt.Errorf("store: insert notification: %w", err)
	}
	return nil
}

// Notification implements paysync.NotificationStore.
func (db *DB) Notification(ctx context.Context, id string) (*paysync.Notification, error) {
	return selectOne(ctx, db.ro, notificationFields, notificationNotFound, "notifications WHERE id = $1", id)
}

func notificationNotFound() error {
	return notFoundResource("notification", "notification not found")
}

// PendingNotifications implements paysync.NotificationStore; a limit of 0 or
// less means 100.
func (db *DB) PendingNotifications(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.ids(ctx, `SELECT id FROM notifications WHERE processed_at IS NULL AND created_at < $1
		ORDER BY created_at, id LIMIT $2`, normTime(before), limit)
}

// CustomerNotifications implements paysync.NotificationStore.
func (db *DB) CustomerNotifications(ctx context.Context, customerID string) ([]string, error) {
	return db.ids(ctx, `SELECT id FROM notifications WHERE customer_id = $1 AND processed_at IS NULL
		ORDER BY created_at, id`, customerID)
}

// DeliverNotification implements paysync.NotificationStore. Marking first makes
// a concurrent second flush of the same notification store nothing.
func (db *DB) DeliverNotification(ctx context.Context, id string, ds []*paysync.Delivery) (bool, error) {
	prepareDeliveries(ds)
	var done bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE notifications SET processed_at = $2 WHERE id = $1 AND processed_at IS NULL", id, now())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		if err := insertDeliveries(ctx, tx, ds); err != nil {
			return err
		}
		done = true
		return nil
	})
	return done, err
}
