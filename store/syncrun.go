package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

var _ paysync.SyncRunStore = (*DB)(nil)

const syncRunColumns = `id, organization_id, mode, filter, options, outcomes, state, total, done, synced, failed, skipped,
	in_flight, active_seconds, resumed_at, created_at, updated_at, finished_at`

func syncRunNotFound() error {
	return &paysync.Error{Code: paysync.ENOTFOUND, Resource: "sync_run", Message: "sync run not found"}
}

func scanSyncRun(row interface{ Scan(...any) error }) (*paysync.SyncRun, error) {
	var r paysync.SyncRun
	var filter, options, outcomes string
	err := row.Scan(&r.ID, &r.OrganizationID, &r.Mode, &filter, &options, &outcomes, &r.State, &r.Total, &r.Done, &r.Synced, &r.Failed,
		&r.Skipped, &r.InFlight, &r.ActiveSeconds, optTimeDest{&r.ResumedAt}, timeDest{&r.CreatedAt},
		timeDest{&r.UpdatedAt}, optTimeDest{&r.FinishedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, syncRunNotFound()
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(filter), &r.Filter); err != nil {
		return nil, err
	}
	if r.Mode == paysync.RunImport {
		r.Import, r.Summary = &paysync.ImportOptions{}, paysync.ImportSummary{}
		if err := json.Unmarshal([]byte(options), r.Import); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(outcomes), &r.Summary); err != nil || r.Summary == nil {
			return nil, fmt.Errorf("store: sync run %s outcomes %q: %v", r.ID, outcomes, err)
		}
	}
	return &r, nil
}

// runConditions renders the customers a run selects, as customers c LEFT
// JOIN provider_links l, scoped to the run's organization.
func (db *DB) runConditions(r *paysync.SyncRun) (*conditions, bool, error) {
	f := r.Filter
	w, none, err := db.customerConditions(r.OrganizationID, paysync.CustomerFilter{
		ExternalIDs: f.ExternalIDs, CreatedFrom: f.CreatedAfter, CreatedTo: f.CreatedBefore,
	})
	if err != nil || none {
		return w, none, err
	}
	if r.Mode == paysync.RunLinkMissing {
		// No link yet, or a link to this very connection that was never
		// created there.
		w.add("(l.id IS NULL OR (l.provider = " + w.arg(string(f.Provider)) + " AND l.connection_code = " +
			w.arg(f.ConnectionCode) + " AND l.provider_customer_id = '' AND l.state IN ('none', 'failed')))")
		return w, false, nil
	}
	w.add("l.id IS NOT NULL")
	if f.Provider != "" {
		w.add("l.provider = " + w.arg(string(f.Provider)))
	}
	if f.ConnectionCode != "" {
		w.add("l.connection_code = " + w.arg(f.ConnectionCode))
	}
	states := make([]string, len(f.States))
	for i, s := range f.States {
		states[i] = string(s)
	}
	w.in("l.state", states)
	if f.HasPaymentMethod != nil {
		w.add("l.has_payment_method = " + w.arg(*f.HasPaymentMethod))
	}
	switch r.Mode {
	case paysync.RunResync:
		// Service.Resync's rule: a link with nothing to sync is left alone.
		w.add("NOT (l.state = 'none' AND l.provider_customer_id = '')")
	case paysync.RunRefresh:
		w.add("l.state = 'synced'")
	}
	return w, false, nil
}

// AddSyncRun implements paysync.SyncRunStore.
func (db *DB) AddSyncRun(ctx context.Context, r *paysync.SyncRun) error {
	filter, err := json.Marshal(r.Filter)
	if err != nil {
		return err
	}
	options := []byte("{}")
	if r.Import != nil {
		if options, err = json.Marshal(r.Import); err != nil {
			return err
		}
	}
	var upper int64
	r.Total = 0
	// An import's total grows as it reads the provider's pages.
	if w, none, err := db.runConditions(r); err != nil {
		return err
	} else if !none && r.Mode != paysync.RunImport {
		if err := db.ro.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(c.sequential_id), 0) FROM customers c"+
			" LEFT JOIN provider_links l ON l.customer_id = c.id WHERE "+w.sql(), w.args...).Scan(&r.Total, &upper); err != nil {
			return err
		}
	}
	t := now()
	r.ID, r.State, r.CreatedAt, r.UpdatedAt, r.ResumedAt = newID(), paysync.RunRunning, t, t, &t
	r.SyncRunCounts = paysync.SyncRunCounts{Total: r.Total}
	_, err = db.rw.ExecContext(ctx, `INSERT INTO sync_runs (id, organization_id, mode, filter, options, state,
		upper_sequential_id, total, resumed_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)`,
		r.ID, r.OrganizationID, string(r.Mode), string(filter), string(options), string(r.State), upper, r.Total, t)
	return err
}

// SyncRun implements paysync.SyncRunStore.
func (db *DB) SyncRun(ctx context.Context, orgID, id string) (*paysync.SyncRun, error) {
	return scanSyncRun(db.ro.QueryRowContext(ctx, "SELECT "+syncRunColumns+" FROM sync_runs WHERE organization_id = $1 AND id = $2", orgID, id))
}

// SyncRunByID reads a run of any organization (for operators' metrics).
func (db *DB) SyncRunByID(ctx context.Context, id string) (*paysync.SyncRun, error) {
	return scanSyncRun(db.ro.QueryRowContext(ctx, "SELECT "+syncRunColumns+" FROM sync_runs WHERE id = $1", id))
}

// SyncRuns implements paysync.SyncRunStore.
func (db *DB) SyncRuns(ctx context.Context, orgID string, limit int) ([]*paysync.SyncRun, error) {
	return db.queryRuns(ctx, "SELECT "+syncRunColumns+
		" FROM sync_runs WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2", orgID, limit)
}

// SetSyncRunState implements paysync.SyncRunStore. Pausing banks the
// running time so that the rate leaves pauses out.
func (db *DB) SetSyncRunState(ctx context.Context, orgID, id string, to paysync.SyncRunState, from ...paysync.SyncRunState) (*paysync.SyncRun, error) {
	var out *paysync.SyncRun
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		r, err := scanSyncRun(tx.QueryRowContext(ctx, "SELECT "+syncRunColumns+
			" FROM sync_runs WHERE organization_id = $1 AND id = $2"+db.forUpdate(), orgID, id))
		if err != nil {
			return err
		}
		allowed := false
		for _, s := range from {
			allowed = allowed || r.State == s
		}
		if !allowed {
			return &paysync.Error{Code: paysync.EINVALID, Resource: "sync_run",
				Message: "the sync run is " + string(r.State) + ": it cannot become " + string(to),
				Fields:  map[string][]string{"state": {"invalid_state_transition"}}}
		}
		t := now()
		if r.State == paysync.RunRunning && r.ResumedAt != nil {
			r.ActiveSeconds += t.Sub(*r.ResumedAt).Seconds()
		}
		r.ResumedAt = nil
		if to == paysync.RunRunning {
			r.ResumedAt = &t
		}
		if to == paysync.RunCancelled || to == paysync.RunDone {
			r.FinishedAt = &t
		}
		r.State, r.UpdatedAt = to, t
		_, err = tx.ExecContext(ctx, `UPDATE sync_runs SET state = $2, active_seconds = $3, resumed_at = $4,
			finished_at = $5, updated_at = $6 WHERE id = $1`, r.ID, string(r.State), r.ActiveSeconds, nullTime(r.ResumedAt),
			nullTime(r.FinishedAt), t)
		out = r
		return err
	})
	return out, err
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// RunningSyncRuns implements paysync.SyncRunStore.
func (db *DB) RunningSyncRuns(ctx context.Context) ([]*paysync.SyncRun, error) {
	return db.queryRuns(ctx, "SELECT "+syncRunColumns+" FROM sync_runs WHERE state = 'running' ORDER BY created_at, id")
}

func (db *DB) queryRuns(ctx context.Context, query string, args ...any) ([]*paysync.SyncRun, error) {
	rows, err := db.ro.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*paysync.SyncRun
	for rows.Next() {
		r, err := scanSyncRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// settleItems gives each in-flight item of a run the outcome its link
// shows: the link's state at the item's generation, skipped when the link
// went away or moved on to another generation (a live change superseded
// the run's work). A refresh item is done once the link's payment methods
// were read after it started. The link is read by a subquery, one primary
// key look-up an item: a join may be planned as a scan of every link where
// the statistics are stale (PostgreSQL without autovacuum).
const settleItems = `SELECT i.customer_id, i.seq, COALESCE((SELECT
	CASE
		WHEN i.refresh AND l.state <> 'synced' THEN 'skipped'
		WHEN i.refresh AND l.pm_checked_at >= i.started_at THEN 'synced'
		WHEN i.refresh THEN ''
		WHEN l.generation <> i.generation THEN 'skipped'
		WHEN l.state = 'synced' THEN 'synced'
		WHEN l.state = 'failed' THEN 'failed'
		WHEN l.state = 'none' THEN 'skipped'
		ELSE ''
	END FROM provider_links l WHERE l.id = i.link_id), 'skipped')
FROM sync_run_items i WHERE i.run_id = $1 AND i.outcome = '' AND i.seq >= $2`

// AdvanceSyncRun implements paysync.SyncRunStore. The run's row lock
// serialises processes advancing the same run.
func (db *DB) AdvanceSyncRun(ctx context.Context, id string, window int) (*paysync.SyncRun, []paysync.RunItem, error) {
	var (
		run     *paysync.SyncRun
		started []paysync.RunItem
	)
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var last, upper, settled int64
		r, err := scanSyncRun(tx.QueryRowContext(ctx, "SELECT "+syncRunColumns+
			" FROM sync_runs WHERE id = $1"+db.forUpdate(), id))
		if err != nil {
			return err
		}
		run, started = r, nil
		if r.State != paysync.RunRunning {
			return nil
		}
		if err := tx.QueryRowContext(ctx, "SELECT last_sequential_id, upper_sequential_id, settled_seq FROM sync_runs WHERE id = $1",
			id).Scan(&last, &upper, &settled); err != nil {
			return err
		}
		if err := db.settle(ctx, tx, r, &settled); err != nil {
			return err
		}
		if free := window - r.InFlight; free > 0 && last < upper {
			if started, last, err = db.startItems(ctx, tx, r, last, upper, free); err != nil {
				return err
			}
			r.InFlight += len(started)
		}
		t := now()
		r.UpdatedAt = t
		if last >= upper && r.InFlight == 0 {
			// Counted at the start, some customers may have been deleted
			// since: the run is done when its walk is.
			r.State, r.FinishedAt = paysync.RunDone, &t
			if r.ResumedAt != nil {
				r.ActiveSeconds += t.Sub(*r.ResumedAt).Seconds()
			}
			r.ResumedAt = nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE sync_runs SET state = $2, last_sequential_id = $3, done = $4, synced = $5,
			failed = $6, skipped = $7, in_flight = $8, active_seconds = $9, resumed_at = $10, finished_at = $11,
			updated_at = $12, settled_seq = $13 WHERE id = $1`, r.ID, string(r.State), last, r.Done, r.Synced, r.Failed, r.Skipped,
			r.InFlight, r.ActiveSeconds, nullTime(r.ResumedAt), nullTime(r.FinishedAt), t, settled)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return run, started, nil
}

// settle records the outcomes of r's finished items and counts them on r.
func (db *DB) settle(ctx context.Context, tx *sql.Tx, r *paysync.SyncRun, settled *int64) error {
	return db.settleWith(ctx, tx, r, settled, settleItems, "sync_run_items", "customer_id")
}

// settleWith runs query, which lists a run's in-flight items from seq
// *settled on as (key, seq, outcome) with ” for still in flight, stores
// the outcomes in table and counts them on r. It moves *settled up to the
// lowest seq still in flight, past every item when none is: items are
// started in increasing seq under the run's lock, so none can start below.
func (db *DB) settleWith(ctx context.Context, tx *sql.Tx, r *paysync.SyncRun, settled *int64, query, table, key string) error {
	rows, err := tx.QueryContext(ctx, query, r.ID, *settled)
	if err != nil {
		return err
	}
	type done struct {
		key string
		seq int64
	}
	byOutcome := map[string][]done{}
	inFlight := 0
	lowest, highest := int64(-1), int64(-1)
	for rows.Next() {
		var d done
		var outcome string
		if err := rows.Scan(&d.key, &d.seq, &outcome); err != nil {
			rows.Close()
			return err
		}
		highest = max(highest, d.seq)
		if outcome == "" {
			inFlight++
			if lowest < 0 || d.seq < lowest {
				lowest = d.seq
			}
			continue
		}
		byOutcome[outcome] = append(byOutcome[outcome], d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	switch {
	case lowest >= 0:
		*settled = lowest
	case highest >= 0:
		*settled = highest + 1
	}
	r.InFlight = inFlight
	// Items are written by their seq, unique in a run, through the
	// in-flight index (run_id, seq) WHERE outcome = '': an IN list of keys
	// may be planned as a scan of the whole run where statistics lag.
	// Items from before seq existed (seq 0) are written one by key.
	byKey := "UPDATE " + table + " SET outcome = $3 WHERE run_id = $1 AND " + key + " = $2"
	for outcome, items := range byOutcome {
		var seqs []any
		for _, d := range items {
			if d.seq > 0 {
				seqs = append(seqs, d.seq)
			} else if _, err := tx.ExecContext(ctx, byKey, r.ID, d.key, outcome); err != nil {
				return err
			}
		}
		for len(seqs) > 0 {
			chunk := seqs[:min(len(seqs), 500)]
			seqs = seqs[len(chunk):]
			w := &conditions{db: db}
			w.add("run_id = " + w.arg(r.ID))
			w.add("outcome = ''")
			ps := make([]string, len(chunk))
			for i, v := range chunk {
				ps[i] = w.arg(v)
			}
			w.add("seq IN (" + strings.Join(ps, ", ") + ")")
			if _, err := tx.ExecContext(ctx, "UPDATE "+table+" SET outcome = "+w.arg(outcome)+" WHERE "+w.sql(), w.args...); err != nil {
				return err
			}
		}
		countOutcome(r, outcome, len(items))
	}
	return nil
}

// startItems starts the work of up to n customers of r after the cursor
// last, and returns the started items and the new cursor: upper once the
// walk has seen every customer up to it.
func (db *DB) startItems(ctx context.Context, tx *sql.Tx, r *paysync.SyncRun, last, upper int64, n int) ([]paysync.RunItem, int64, error) {
	w, none, err := db.runConditions(r)
	if err != nil {
		return nil, last, err
	}
	if none {
		return nil, upper, nil
	}
	w.add("c.sequential_id > " + w.arg(last))
	w.add("c.sequential_id <= " + w.arg(upper))
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE OF c"
	}
	rows, err := tx.QueryContext(ctx, `SELECT c.id, c.organization_id, c.sequential_id, COALESCE(l.id, ''),
		COALESCE(l.generation, 0), COALESCE(l.state, '') FROM customers c LEFT JOIN provider_links l ON l.customer_id = c.id
		WHERE `+w.sql()+" ORDER BY c.sequential_id LIMIT "+strconv.Itoa(n)+lock, w.args...)
	if err != nil {
		return nil, last, err
	}
	type candidate struct {
		customerID, orgID, linkID string
		seq                       int64
		generation                int
		state                     string
	}
	var cands []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.customerID, &c.orgID, &c.seq, &c.linkID, &c.generation, &c.state); err != nil {
			rows.Close()
			return nil, last, err
		}
		cands = append(cands, c)
		last = c.seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, last, err
	}
	if len(cands) < n {
		last = upper
	}
	t := now()
	items := make([]paysync.RunItem, 0, len(cands))
	for _, c := range cands {
		item := paysync.RunItem{LinkRef: paysync.LinkRef{ID: c.linkID, Generation: c.generation}}
		switch {
		case r.Mode == paysync.RunRefresh:
			item.Refresh = true
		case r.Mode == paysync.RunLinkMissing && c.linkID == "":
			item.ID, item.Generation = newID(), 1
			if _, err := tx.ExecContext(ctx, `INSERT INTO provider_links (id, customer_id, organization_id, provider,
				connection_code, sync_with_provider, generation, state, pending_since, updated_at)
				VALUES ($1, $2, $3, $4, $5, TRUE, 1, 'pending', $6, $6)`,
				item.ID, c.customerID, c.orgID, string(r.Filter.Provider), r.Filter.ConnectionCode, t); err != nil {
				return nil, last, err
			}
		case c.state != string(paysync.SyncPending):
			// Service.Resync's startGeneration, in SQL: a link that was
			// created keeps its id and the new generation only verifies it.
			item.Generation++
			// link_missing turns a link that was never created into one to create.
			if _, err := tx.ExecContext(ctx, `UPDATE provider_links SET generation = generation + 1, state = 'pending',
				last_error = NULL, attempts = 0, pending_since = $2, updated_at = $2, sync_with_provider = (sync_with_provider OR $3),
				link_only = (link_only OR provider_customer_id <> ''),
				has_payment_method = CASE WHEN link_only OR provider_customer_id <> '' THEN has_payment_method ELSE FALSE END
				WHERE id = $1`, item.ID, t, r.Mode == paysync.RunLinkMissing); err != nil {
				return nil, last, err
			}
		}
		// A pending link is already at work: the run follows its generation.
		if _, err := tx.ExecContext(ctx, `INSERT INTO sync_run_items (run_id, customer_id, link_id, generation, refresh,
			started_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, c.customerID, item.ID, item.Generation, item.Refresh, t, c.seq); err != nil {
			return nil, last, err
		}
		items = append(items, item)
	}
	return items, last, nil
}

// SyncRunInFlight implements paysync.SyncRunStore.
func (db *DB) SyncRunInFlight(ctx context.Context, id string, limit int) ([]paysync.RunItem, error) {
	rows, err := db.ro.QueryContext(ctx, `SELECT link_id, generation, refresh FROM sync_run_items
		WHERE run_id = $1 AND outcome = '' AND seq >= (SELECT settled_seq FROM sync_runs WHERE id = $1) ORDER BY seq LIMIT $2`, id, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []paysync.RunItem
	for rows.Next() {
		var it paysync.RunItem
		if err := rows.Scan(&it.ID, &it.Generation, &it.Refresh); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
