package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/paysync/paysync"
)

// recordSync guards on the generation and never turns a synced link back
// into something else: a late failure of an older attempt must not undo a
// success. provider_customer_id is kept when $4 is empty. Only a completed
// sync has read the payment methods: it alone sets has_payment_method, and
// counts as a check; a failed attempt leaves what was known.
const recordSync = `UPDATE provider_links SET
	state = $3,
	provider_customer_id = CASE WHEN $4 = '' THEN provider_customer_id ELSE $4 END,
	has_payment_method = CASE WHEN $3 = 'synced' THEN $5 ELSE has_payment_method END,
	last_error = $6,
	attempts = attempts + 1,
	synced_at = CASE WHEN $3 = 'synced' THEN $7 ELSE synced_at END,
	pm_checked_at = CASE WHEN $3 = 'synced' THEN $7 ELSE pm_checked_at END,
	updated_at = $7
WHERE id = $1 AND generation = $2 AND NOT (state = 'synced' AND $3 <> 'synced')`

// RecordSync implements paysync.Store.
func (db *DB) RecordSync(ctx context.Context, ref paysync.LinkRef, r paysync.SyncResult) (bool, error) {
	var lastError any
	if r.Error != nil {
		// The same encoding as the last_error column of linkFields.
		lastError = lastErrorField.value(&paysync.ProviderLink{LastError: r.Error})
	}
	args := []any{ref.ID, ref.Generation, string(r.State), r.ProviderCustomerID, r.HasPaymentMethod, lastError, now()}
	if r.Notify == "" {
		res, err := db.rw.ExecContext(ctx, recordSync, args...)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n > 0, err
	}
	var applied bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, recordSync, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		applied = true
		return notifyLink(ctx, tx, ref.ID, r.Notify)
	})
	return applied, err
}

var lastErrorField = func() field[link] {
	for _, f := range linkFields {
		if f.name == "last_error" {
			return f
		}
	}
	panic("store: no last_error column")
}()

// PendingLinks implements paysync.Store: links pending since before
// `before`, oldest first, after the cursor; a limit of 0 or less means
// 100. A link whose generation a live sync run started is the run
// driver's to re-queue, on the bulk queue: the reconciler would move bulk
// work ahead of live work.
func (db *DB) PendingLinks(ctx context.Context, before time.Time, after paysync.PendingCursor, limit int) ([]paysync.LinkRef, paysync.PendingCursor, error) {
	if limit <= 0 {
		limit = 100
	}
	// The zero cursor's time is before every pending_since.
	rows, err := db.ro.QueryContext(ctx, `SELECT id, generation, pending_since FROM provider_links
		WHERE state = 'pending' AND pending_since < $1
			AND (pending_since > $2 OR (pending_since = $2 AND id > $3))
			AND NOT EXISTS (SELECT 1 FROM sync_run_items i
			JOIN sync_runs r ON r.id = i.run_id AND r.state IN ('running', 'paused')
			WHERE i.link_id = provider_links.id AND i.generation = provider_links.generation AND i.outcome = '')
		ORDER BY pending_since, id LIMIT $4`, normTime(before), normTime(after.Since), after.ID, limit)
	if err != nil {
		return nil, after, err
	}
	defer rows.Close()
	var refs []paysync.LinkRef
	for rows.Next() {
		var ref paysync.LinkRef
		if err := rows.Scan(&ref.ID, &ref.Generation, timeDest{&after.Since}); err != nil {
			return nil, after, err
		}
		after.ID = ref.ID
		refs = append(refs, ref)
	}
	return refs, after, rows.Err()
}

// CustomerByProviderID implements paysync.PaymentMethodStore. Should several
// customers of the organization link the same provider customer, the
// oldest is returned. An empty providerCustomerID matches nothing.
func (db *DB) CustomerByProviderID(ctx context.Context, orgID string, kind paysync.ProviderKind, code, providerCustomerID string) (*paysync.Customer, error) {
	if providerCustomerID == "" {
		return nil, notFound()
	}
	return db.firstCustomer(ctx, `l.organization_id = $1 AND l.provider = $2
		AND l.connection_code = $3 AND l.provider_customer_id = $4`, orgID, string(kind), code, providerCustomerID)
}

// RecordPaymentMethod implements paysync.PaymentMethodStore. The link's row lock
// (PostgreSQL) or the write lock (SQLite) is held from reading the old
// value to the update, so concurrent refreshes apply in some serial order,
// and a check that read earlier than the stored one is dropped, as is one
// that read a provider customer the link no longer points at. updated_at
// moves only when has_payment_method does, as for any other link change.
func (db *DB) RecordPaymentMethod(ctx context.Context, linkID, providerCustomerID string, has bool, checkedAt time.Time) (changed bool, err error) {
	checkedAt = normTime(checkedAt)
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var old bool
		var checked *time.Time
		var state, current string
		err := tx.QueryRowContext(ctx, "SELECT has_payment_method, pm_checked_at, state, provider_customer_id FROM provider_links WHERE id = $1"+db.forUpdate(),
			linkID).Scan(&old, optTimeDest{&checked}, &state, &current)
		if err != nil {
			return noRow(err, linkNotFound)
		}
		if (checked != nil && !checked.Before(checkedAt)) || state != string(paysync.SyncSynced) || current != providerCustomerID {
			return nil
		}
		updatedAt := any(nil)
		if old != has {
			updatedAt = now()
		}
		// The guard repeats the check above: it costs nothing and keeps the
		// statement safe on its own.
		res, err := tx.ExecContext(ctx, `UPDATE provider_links SET has_payment_method = $2, pm_checked_at = $3,
			updated_at = COALESCE($4, updated_at) WHERE id = $1 AND (pm_checked_at IS NULL OR pm_checked_at < $3)`,
			linkID, has, checkedAt, updatedAt)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		changed = n > 0 && old != has
		if changed {
			return notifyLink(ctx, tx, linkID, paysync.EventPaymentMethodUpdated)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return changed, nil
}

func linkNotFound() error {
	return &paysync.Error{Code: paysync.ENOTFOUND, Resource: "provider_link", Message: "provider link not found"}
}

// LinksToRefresh implements paysync.PaymentMethodStore: synced links without a
// payment method, never checked or last checked before checkedBefore, the
// longest unchecked first (a link never checked counts from its sync); a
// limit of 0 or less means 100.
func (db *DB) LinksToRefresh(ctx context.Context, checkedBefore time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	// The state and has_payment_method terms are spelled as in the partial
	// index provider_links_refresh, so that both planners match it.
	return db.ids(ctx, `SELECT id FROM provider_links
		WHERE state = 'synced' AND has_payment_method = FALSE AND (pm_checked_at IS NULL OR pm_checked_at < $1)
		ORDER BY COALESCE(pm_checked_at, synced_at) NULLS FIRST, id LIMIT $2`, normTime(checkedBefore), limit)
}
