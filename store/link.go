package store

import (
	"context"
	"time"

	"github.com/paysync/paysync"
)

// recordSync guards on the generation and never turns a synced link back
// into something else: a late failure of an older attempt must not undo a
// success. provider_customer_id is kept when $4 is empty.
const recordSync = `UPDATE provider_links SET
	state = $3,
	provider_customer_id = CASE WHEN $4 = '' THEN provider_customer_id ELSE $4 END,
	has_payment_method = $5,
	last_error = $6,
	attempts = attempts + 1,
	synced_at = CASE WHEN $3 = 'synced' THEN $7 ELSE synced_at END,
	updated_at = $7
WHERE id = $1 AND generation = $2 AND NOT (state = 'synced' AND $3 <> 'synced')`

// RecordSync implements paysync.Store.
func (db *DB) RecordSync(ctx context.Context, ref paysync.LinkRef, r paysync.SyncResult) (bool, error) {
	var lastError any
	if r.Error != nil {
		// The same encoding as the last_error column of linkFields.
		lastError = lastErrorField.value(&paysync.ProviderLink{LastError: r.Error})
	}
	res, err := db.rw.ExecContext(ctx, recordSync, ref.ID, ref.Generation, string(r.State), r.ProviderCustomerID,
		r.HasPaymentMethod, lastError, now())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
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
// `before`, oldest first; a limit of 0 or less means 100.
func (db *DB) PendingLinks(ctx context.Context, before time.Time, limit int) ([]paysync.LinkRef, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.ro.QueryContext(ctx, `SELECT id, generation FROM provider_links
		WHERE state = 'pending' AND pending_since < $1 ORDER BY pending_since, id LIMIT $2`, normTime(before), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []paysync.LinkRef
	for rows.Next() {
		var ref paysync.LinkRef
		if err := rows.Scan(&ref.ID, &ref.Generation); err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, rows.Err()
}
