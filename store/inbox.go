package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

var insertInboxEvent = "INSERT INTO inbox_events (" + strings.Join(inboxColumns, ", ") + ") VALUES (" +
	placeholders(1, len(inboxColumns)) + ") ON CONFLICT (organization_id, provider, connection_code, event_id) DO NOTHING"

func inboxEventNotFound() error {
	return notFoundResource("inbox_event", "inbox event not found")
}

// AddInboxEvents implements paysync.InboxStore. All events are inserted in
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

// InboxEvent implements paysync.InboxStore.
func (db *DB) InboxEvent(ctx context.Context, id string) (*paysync.InboxEvent, error) {
	return selectOne(ctx, db.ro, inboxFields, inboxEventNotFound, "inbox_events WHERE id = $1", id)
}

// MarkInboxProcessed implements paysync.InboxStore. Marking twice keeps
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
	return noRow(db.rw.QueryRowContext(ctx, "SELECT 1 FROM inbox_events WHERE id = $1", id).Scan(&one), inboxEventNotFound)
}

// UnprocessedInbox implements paysync.InboxStore: ids of events received
// before `before` and not processed, oldest first; a limit of 0 or less
// means 100.
func (db *DB) UnprocessedInbox(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.ids(ctx, `SELECT id FROM inbox_events WHERE processed_at IS NULL AND received_at < $1
		ORDER BY received_at, id LIMIT $2`, normTime(before), limit)
}
