package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/paysync/paysync"
)

// settleImportItems is settleItems for import items: a link or create is
// done once the link's verification at that generation finished.
const settleImportItems = `SELECT i.provider_customer_id, i.seq, COALESCE((SELECT
	CASE
		WHEN l.generation <> i.generation THEN 'skipped'
		WHEN l.state = 'synced' AND i.action = 'create' THEN 'created'
		WHEN l.state = 'synced' THEN 'linked'
		WHEN l.state = 'failed' THEN 'failed'
		WHEN l.state = 'none' THEN 'skipped'
		ELSE ''
	END FROM provider_links l WHERE l.id = i.link_id), 'skipped')
FROM import_items i WHERE i.run_id = $1 AND i.outcome = '' AND i.seq >= $2`

// AdvanceImport implements paysync.SyncRunStore. The provider is called
// outside any transaction; the page is then recorded only if the run still
// runs and its cursor has not moved (another process recorded it).
func (db *DB) AdvanceImport(ctx context.Context, id string, window int, page func(string, int) (paysync.CustomerPage, error)) (*paysync.SyncRun, []paysync.RunItem, error) {
	var (
		run  *paysync.SyncRun
		walk importWalk
	)
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		r, w, err := db.lockRun(ctx, tx, id)
		if err != nil || r.State != paysync.RunRunning {
			run = r
			return err
		}
		if err := db.settleImport(ctx, tx, r, &w.settled); err != nil {
			return err
		}
		run, walk = r, w
		return db.saveRun(ctx, tx, r, w)
	})
	if err != nil || run.State != paysync.RunRunning {
		return run, nil, err
	}
	free := window - run.InFlight
	if walk.done || free <= 0 {
		if walk.done && run.InFlight == 0 {
			run, err = db.finishRun(ctx, id)
		}
		return run, nil, err
	}
	p, err := page(walk.cursor, free)
	if err != nil {
		return run, nil, err
	}
	var started []paysync.RunItem
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		r, w, err := db.lockRun(ctx, tx, id)
		if err != nil || r.State != paysync.RunRunning || w.cursor != walk.cursor || w.done {
			run = r
			return err
		}
		for _, pc := range p.Customers {
			item, err := db.importOne(ctx, tx, r, pc)
			if err != nil {
				return err
			}
			if item != nil {
				started = append(started, *item)
			}
		}
		r.InFlight += len(started)
		run = r
		w.cursor, w.done = p.Next, p.Next == ""
		return db.saveRun(ctx, tx, r, w)
	})
	return run, started, err
}

// importWalk is an import run's walk of its provider's customers: the next
// page's cursor, whether the last page was read, and settled_seq.
type importWalk struct {
	cursor  string
	done    bool
	settled int64
}

// lockRun reads run id under its row lock, with its walk.
func (db *DB) lockRun(ctx context.Context, tx *sql.Tx, id string) (*paysync.SyncRun, importWalk, error) {
	var w importWalk
	r, err := scanSyncRun(tx.QueryRowContext(ctx, "SELECT "+syncRunColumns+" FROM sync_runs WHERE id = $1"+db.forUpdate(), id))
	if err != nil {
		return nil, w, err
	}
	err = tx.QueryRowContext(ctx, "SELECT provider_cursor, walk_done, settled_seq FROM sync_runs WHERE id = $1", id).Scan(&w.cursor, &w.done, &w.settled)
	return r, w, err
}

func (db *DB) saveRun(ctx context.Context, tx *sql.Tx, r *paysync.SyncRun, w importWalk) error {
	r.UpdatedAt = now()
	outcomes, err := json.Marshal(r.Summary)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE sync_runs SET total = $2, done = $3, synced = $4, failed = $5, skipped = $6,
		in_flight = $7, provider_cursor = $8, walk_done = $9, settled_seq = $10, outcomes = $11, updated_at = $12 WHERE id = $1`,
		r.ID, r.Total, r.Done, r.Synced, r.Failed, r.Skipped, r.InFlight, w.cursor, w.done, w.settled, string(outcomes), r.UpdatedAt)
	return err
}

// finishRun marks a running run done.
func (db *DB) finishRun(ctx context.Context, id string) (*paysync.SyncRun, error) {
	r, err := scanSyncRun(db.ro.QueryRowContext(ctx, "SELECT "+syncRunColumns+" FROM sync_runs WHERE id = $1", id))
	if err != nil {
		return nil, err
	}
	r, err = db.SetSyncRunState(ctx, r.OrganizationID, id, paysync.RunDone, paysync.RunRunning)
	if paysync.ErrorCode(err) == paysync.EINVALID {
		return db.SyncRunByID(ctx, id) // paused or cancelled in between
	}
	return r, err
}

// settleImport records the outcomes of r's finished import items.
func (db *DB) settleImport(ctx context.Context, tx *sql.Tx, r *paysync.SyncRun, settled *int64) error {
	return db.settleWith(ctx, tx, r, settled, settleImportItems, "import_items", "provider_customer_id")
}

// countOutcome adds n items of outcome to r's counts (and to an import's
// count by outcome).
func countOutcome(r *paysync.SyncRun, outcome string, n int) {
	r.Done += n
	if r.Summary != nil {
		r.Summary[outcome] += n
	}
	switch outcome {
	case paysync.ImportLinked, paysync.ImportCreated, "synced":
		r.Synced += n
	case paysync.ImportFailed, paysync.ImportConflict:
		r.Failed += n
	default:
		r.Skipped += n
	}
}

// importOne matches one provider customer and records what the run does
// with it; it returns the item to queue when it linked or created one.
func (db *DB) importOne(ctx context.Context, tx *sql.Tx, r *paysync.SyncRun, pc paysync.ListedCustomer) (*paysync.RunItem, error) {
	// One look-up per customer: both key columns always take the primary
	// key, where an IN list over a run's items may be planned as a scan of
	// the whole run.
	var seen int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM import_items WHERE run_id = $1 AND provider_customer_id = $2",
		r.ID, pc.ID).Scan(&seen); err != nil || seen > 0 {
		return nil, err // a page read twice: each customer is handled once per run
	}
	o := r.Import
	item := paysync.ImportItem{ProviderCustomerID: pc.ID, Email: pc.Email}
	customerID, by, reason, err := db.matchCustomer(ctx, tx, r.OrganizationID, pc, o.Match)
	if err != nil {
		return nil, err
	}
	item.CustomerID, item.MatchedBy = customerID, by
	var started *paysync.RunItem
	action := ""
	switch {
	case reason != "":
		item.Outcome, item.Reason = paysync.ImportAmbiguous, reason
	case customerID == "" && !o.CreateMissing:
		item.Outcome = paysync.ImportUnmatched
	case customerID == "" && o.DryRun:
		item.Outcome = paysync.ImportWouldCreate
	case customerID == "":
		action = "create"
		if item.CustomerID, item.Reason, err = db.createImported(ctx, tx, r.OrganizationID, pc); err != nil {
			return nil, err
		}
		if item.Reason != "" {
			item.Outcome = paysync.ImportConflict
			break
		}
		started, item.Outcome, item.Reason, err = db.linkImported(ctx, tx, r, item.CustomerID, pc.ID, false)
	default:
		action = "link"
		started, item.Outcome, item.Reason, err = db.linkImported(ctx, tx, r, customerID, pc.ID, o.DryRun)
	}
	if err != nil {
		return nil, err
	}
	r.Total++
	var linkID string
	var generation int
	if started != nil {
		linkID, generation = started.ID, started.Generation
	} else {
		countOutcome(r, item.Outcome, 1)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO import_items (run_id, provider_customer_id, customer_id, link_id, generation,
		action, matched_by, outcome, reason, email, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.ID, pc.ID, item.CustomerID, linkID, generation, action, item.MatchedBy, item.Outcome, item.Reason, pc.Email, r.Total)
	return started, err
}

// matchCustomer finds the paysync customer a provider customer is, trying
// the ways of match in order. An ambiguous way answers a reason and no
// customer, and stops the search: it is never guessed.
func (db *DB) matchCustomer(ctx context.Context, tx *sql.Tx, orgID string, pc paysync.ListedCustomer, match []string) (id, by, ambiguous string, err error) {
	find := func(where string, arg string) ([]string, error) {
		return queryIDs(ctx, tx, "SELECT id FROM customers WHERE organization_id = $1 AND "+where+
			" ORDER BY sequential_id LIMIT 2", orgID, arg)
	}
	for _, way := range match {
		var ids []string
		switch way {
		case paysync.MatchMetadata:
			if v := pc.Metadata[paysync.MetaPaysyncCustomerID]; v != "" {
				ids, err = find("id = $2", v)
			}
			if v := pc.Metadata[paysync.MetaPaysyncExternalID]; len(ids) == 0 && err == nil && v != "" {
				ids, err = find("external_id = $2", v)
			}
		case paysync.MatchExternalID:
			for _, k := range paysync.ExternalIDMetaKeys {
				if v := pc.Metadata[k]; v != "" && len(ids) == 0 && err == nil {
					ids, err = find("external_id = $2", v)
				}
			}
		case paysync.MatchEmail:
			if e := strings.TrimSpace(pc.Email); e != "" {
				ids, err = find("lower(email) = lower($2)", e)
			}
		}
		if err != nil {
			return "", "", "", err
		}
		switch len(ids) {
		case 1:
			return ids[0], way, "", nil
		case 2:
			return "", way, "several customers have this " + way, nil
		}
	}
	return "", "", "", nil
}

// createImported creates the paysync customer of a provider customer that
// matched none: its external id is the one another integration stored, or
// the provider's id. An existing external id is a conflict (reason).
func (db *DB) createImported(ctx context.Context, tx *sql.Tx, orgID string, pc paysync.ListedCustomer) (id, conflict string, err error) {
	external := pc.ID
	for _, k := range append([]string{paysync.MetaPaysyncExternalID}, paysync.ExternalIDMetaKeys...) {
		if v := pc.Metadata[k]; v != "" {
			external = v
			break
		}
	}
	t := now()
	id = newID()
	res, err := tx.ExecContext(ctx, `INSERT INTO customers (id, organization_id, external_id, name, email, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (organization_id, external_id) DO NOTHING`,
		id, orgID, external, validUTF8(pc.Name), validUTF8(pc.Email), t)
	if err != nil {
		return "", "", err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return "", "a customer with external id " + external + " exists but did not match", err
	}
	return id, "", nil
}

// linkImported links a customer to the provider customer pcID at r's
// connection (verify and read payment methods, never create): it answers
// the item to queue, or the final outcome when there is nothing to do.
func (db *DB) linkImported(ctx context.Context, tx *sql.Tx, r *paysync.SyncRun, customerID, pcID string, dryRun bool) (*paysync.RunItem, string, string, error) {
	var l struct {
		id, provider, code, pcID, state string
		generation                      int
	}
	err := tx.QueryRowContext(ctx, `SELECT id, provider, connection_code, provider_customer_id, state, generation
		FROM provider_links WHERE customer_id = $1`+db.forUpdate(), customerID).Scan(&l.id, &l.provider, &l.code, &l.pcID, &l.state, &l.generation)
	hasLink := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", "", err
	}
	sameConn := l.provider == string(r.Filter.Provider) && l.code == r.Filter.ConnectionCode
	switch {
	case hasLink && sameConn && l.pcID == pcID:
		return nil, paysync.ImportAlreadyLinked, "", nil
	case hasLink && l.pcID != "":
		return nil, paysync.ImportConflict, "the customer is linked to " + l.provider + " customer " + l.pcID, nil
	case hasLink && l.state == string(paysync.SyncPending):
		return nil, paysync.ImportConflict, "a sync of the customer is in flight", nil
	case dryRun:
		return nil, paysync.ImportWouldLink, "", nil
	}
	t := now()
	item := &paysync.RunItem{LinkRef: paysync.LinkRef{ID: l.id, Generation: l.generation + 1}}
	if !hasLink {
		item.ID, item.Generation = newID(), 1
		_, err = tx.ExecContext(ctx, `INSERT INTO provider_links (id, customer_id, organization_id, provider, connection_code,
			provider_customer_id, link_only, sync_with_provider, generation, state, pending_since, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, TRUE, TRUE, 1, 'pending', $7, $7)`,
			item.ID, customerID, r.OrganizationID, string(r.Filter.Provider), r.Filter.ConnectionCode, pcID, t)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE provider_links SET provider = $2, connection_code = $3, provider_customer_id = $4,
			link_only = TRUE, sync_with_provider = TRUE, has_payment_method = FALSE, generation = generation + 1,
			state = 'pending', last_error = NULL, attempts = 0, pending_since = $5, updated_at = $5 WHERE id = $1`,
			l.id, string(r.Filter.Provider), r.Filter.ConnectionCode, pcID, t)
	}
	return item, "", "", err
}

// ImportItems implements paysync.SyncRunStore.
func (db *DB) ImportItems(ctx context.Context, orgID, id string, outcomes ...string) ([]paysync.ImportItem, error) {
	if _, err := db.SyncRun(ctx, orgID, id); err != nil {
		return nil, err
	}
	w := &conditions{db: db}
	w.add("run_id = " + w.arg(id))
	w.in("outcome", slices.Clone(outcomes))
	rows, err := db.ro.QueryContext(ctx, `SELECT provider_customer_id, customer_id, matched_by, outcome, reason, email
		FROM import_items WHERE `+w.sql()+" ORDER BY seq", w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []paysync.ImportItem
	for rows.Next() {
		var it paysync.ImportItem
		if err := rows.Scan(&it.ProviderCustomerID, &it.CustomerID, &it.MatchedBy, &it.Outcome, &it.Reason, &it.Email); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
