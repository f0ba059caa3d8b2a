package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/store"
)

// linked stores a customer of org with a link in state at generation 1.
func linked(t *testing.T, db *store.DB, org, ext string, state paysync.SyncState, providerID string) *paysync.Customer {
	t.Helper()
	c := &paysync.Customer{OrganizationID: org, ExternalID: ext, Name: ext}
	if state != "" {
		c.Link = &paysync.ProviderLink{Provider: paysync.Stripe, ConnectionCode: "stripe", State: state,
			ProviderCustomerID: providerID, SyncWithProvider: true, Generation: 1}
	}
	got, _ := put(t, db, c)
	return got
}

// finish records the outcome of a link's current generation, as the sync job does.
func finish(t *testing.T, db *store.DB, ref paysync.LinkRef, state paysync.SyncState) {
	t.Helper()
	if _, err := db.RecordSync(context.Background(), ref, paysync.SyncResult{State: state, ProviderCustomerID: "cus_" + ref.ID}); err != nil {
		t.Fatal(err)
	}
}

// runOverSynced stores n customers of org with synced links (c0, c1, ...)
// and starts a run of mode over them.
func runOverSynced(t *testing.T, db *store.DB, org string, n int, mode paysync.SyncRunMode) *paysync.SyncRun {
	t.Helper()
	for i := range n {
		linked(t, db, org, fmt.Sprintf("c%d", i), paysync.SyncSynced, fmt.Sprintf("cus_%d", i))
	}
	run := &paysync.SyncRun{OrganizationID: org, Mode: mode}
	if err := db.AddSyncRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	return run
}

func TestSyncRunWalksInWindowsAndStartsEachCustomerOnce(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org := "org_runs"
		for i := range 7 {
			linked(t, db, org, fmt.Sprintf("synced-%d", i), paysync.SyncSynced, fmt.Sprintf("cus_%d", i))
		}
		linked(t, db, org, "failed-0", paysync.SyncFailed, "")
		linked(t, db, org, "no-link", "", "")
		linked(t, db, "other_org", "elsewhere", paysync.SyncSynced, "cus_x")

		run := &paysync.SyncRun{OrganizationID: org, Mode: paysync.RunResync}
		if err := db.AddSyncRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if run.Total != 8 || run.State != paysync.RunRunning {
			t.Fatalf("total %d state %s, want 8 running", run.Total, run.State)
		}
		// A customer created after the start is not part of the run.
		linked(t, db, org, "late", paysync.SyncSynced, "cus_late")

		seen := map[string]int{}
		for pass := 0; pass < 20; pass++ {
			r, items, err := db.AdvanceSyncRun(ctx, run.ID, 3)
			if err != nil {
				t.Fatal(err)
			}
			if r.InFlight > 3 {
				t.Fatalf("pass %d: %d in flight, window 3", pass, r.InFlight)
			}
			for _, it := range items {
				seen[it.ID]++
				c, err := db.LinkCustomer(ctx, it.ID)
				if err != nil {
					t.Fatal(err)
				}
				if c.Link.Generation != it.Generation || c.Link.State != paysync.SyncPending {
					t.Fatalf("%s: link at generation %d state %s, item generation %d", c.ExternalID, c.Link.Generation, c.Link.State, it.Generation)
				}
				if c.ExternalID == "synced-0" && (!c.Link.LinkOnly || c.Link.ProviderCustomerID != "cus_0") {
					t.Fatalf("a created link's new generation must only verify it: %+v", c.Link)
				}
				outcome := paysync.SyncSynced
				if c.ExternalID == "synced-1" {
					outcome = paysync.SyncFailed
				}
				finish(t, db, it.LinkRef, outcome)
			}
			if r.State == paysync.RunDone {
				if r.Total != 8 || r.Done != 8 || r.Synced != 7 || r.Failed != 1 || r.Skipped != 0 || r.InFlight != 0 {
					t.Fatalf("counts at the end: %+v", r.SyncRunCounts)
				}
				if r.FinishedAt == nil {
					t.Fatal("a done run has a finish time")
				}
				break
			}
		}
		if len(seen) != 8 {
			t.Fatalf("started %d links, want 8: %v", len(seen), seen)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("link %s started %d times in one run", id, n)
			}
		}
		got, err := db.SyncRun(ctx, org, run.ID)
		if err != nil || got.State != paysync.RunDone {
			t.Fatalf("stored run: %+v, %v", got, err)
		}
		late, _ := db.Customer(ctx, org, paysync.CustomerKey{ExternalID: "late"})
		if late.Link.Generation != 1 {
			t.Fatalf("the late customer was started: generation %d", late.Link.Generation)
		}
		if _, err := db.SyncRun(ctx, "other_org", run.ID); paysync.ErrorCode(err) != paysync.ENOTFOUND {
			t.Fatalf("another organization reads the run: %v", err)
		}
	})
}

func TestSyncRunSkipsSupersededAndDeletedCustomers(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org := "org_skip"
		a := linked(t, db, org, "a", paysync.SyncFailed, "")
		linked(t, db, org, "b", paysync.SyncFailed, "")
		run := &paysync.SyncRun{OrganizationID: org, Mode: paysync.RunResync,
			Filter: paysync.SyncRunFilter{States: []paysync.SyncState{paysync.SyncFailed}}}
		if err := db.AddSyncRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		_, items, err := db.AdvanceSyncRun(ctx, run.ID, 10)
		if err != nil || len(items) != 2 {
			t.Fatalf("started %d, %v", len(items), err)
		}
		if err := db.DeleteCustomer(ctx, org, a.ID); err != nil {
			t.Fatal(err)
		}
		// A live change moves b to another generation.
		if _, _, err := db.UpsertCustomer(ctx, org, "b", func(c *paysync.Customer) (*paysync.Customer, error) {
			c.Link.Generation++
			c.Link.State = paysync.SyncPending
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
		r, _, err := db.AdvanceSyncRun(ctx, run.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != paysync.RunDone || r.Skipped != 2 || r.Done != 2 {
			t.Fatalf("want done with 2 skipped: %s %+v", r.State, r.SyncRunCounts)
		}
	})
}

func TestSyncRunPauseResumeCancelAndReconcilerHandOff(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org := "org_pause"
		run := runOverSynced(t, db, org, 4, paysync.RunRefresh)
		_, items, err := db.AdvanceSyncRun(ctx, run.ID, 2)
		if err != nil || len(items) != 2 || !items[0].Refresh {
			t.Fatalf("refresh items: %+v, %v", items, err)
		}
		if _, err := db.SetSyncRunState(ctx, org, run.ID, paysync.RunPaused, paysync.RunRunning); err != nil {
			t.Fatal(err)
		}
		r, more, err := db.AdvanceSyncRun(ctx, run.ID, 2)
		if err != nil || len(more) != 0 || r.State != paysync.RunPaused {
			t.Fatalf("a paused run advanced: %s %d %v", r.State, len(more), err)
		}
		if _, err := db.SetSyncRunState(ctx, org, run.ID, paysync.RunPaused, paysync.RunRunning); paysync.ErrorCode(err) != paysync.EINVALID {
			t.Fatalf("pausing a paused run: %v", err)
		}
		// A refresh item is done once the payment methods were read after it started.
		if _, err := db.RecordPaymentMethod(ctx, items[0].ID, "cus_0", true, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetSyncRunState(ctx, org, run.ID, paysync.RunRunning, paysync.RunPaused); err != nil {
			t.Fatal(err)
		}
		r, _, err = db.AdvanceSyncRun(ctx, run.ID, 2)
		if err != nil || r.Synced != 1 {
			t.Fatalf("after the read: %+v, %v", r.SyncRunCounts, err)
		}
		r, err = db.SetSyncRunState(ctx, org, run.ID, paysync.RunCancelled, paysync.RunRunning, paysync.RunPaused)
		if err != nil || r.FinishedAt == nil {
			t.Fatalf("cancel: %+v, %v", r, err)
		}
	})
}

func TestSyncRunLinkMissingCreatesLinksAndPendingLinksLeavesThemToTheRun(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org := "org_missing"
		linked(t, db, org, "bare", "", "")
		linked(t, db, org, "has", paysync.SyncSynced, "cus_has")
		run := &paysync.SyncRun{OrganizationID: org, Mode: paysync.RunLinkMissing,
			Filter: paysync.SyncRunFilter{Provider: paysync.GoCardless, ConnectionCode: "gc"}}
		if err := db.AddSyncRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if run.Total != 1 {
			t.Fatalf("total %d, want 1", run.Total)
		}
		_, items, err := db.AdvanceSyncRun(ctx, run.ID, 5)
		if err != nil || len(items) != 1 {
			t.Fatalf("items %+v, %v", items, err)
		}
		c, err := db.Customer(ctx, org, paysync.CustomerKey{ExternalID: "bare"})
		if err != nil {
			t.Fatal(err)
		}
		l := c.Link
		if l == nil || l.Provider != paysync.GoCardless || l.ConnectionCode != "gc" || l.State != paysync.SyncPending ||
			!l.SyncWithProvider || l.Generation != 1 || l.ID != items[0].ID {
			t.Fatalf("link: %+v", l)
		}
		refs, _, err := db.PendingLinks(ctx, time.Now().UTC().Add(time.Second), paysync.PendingCursor{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range refs {
			if ref.ID == l.ID {
				t.Fatal("the reconciler would move a running run's link off the bulk queue")
			}
		}
		if _, err := db.SetSyncRunState(ctx, org, run.ID, paysync.RunCancelled, paysync.RunRunning); err != nil {
			t.Fatal(err)
		}
		refs, _, err = db.PendingLinks(ctx, time.Now().UTC().Add(time.Second), paysync.PendingCursor{}, 100)
		if err != nil || len(refs) != 1 || refs[0].ID != l.ID {
			t.Fatalf("a cancelled run's links go back to the reconciler: %+v, %v", refs, err)
		}
	})
}

// Import runs from before 0007 get their counts by outcome from their items.
func TestMigrateCountsImportOutcomes(t *testing.T) {
	eachDialectAt(t, 6, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, err := db.EnsureOrganization(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		run := &paysync.SyncRun{OrganizationID: org.ID, Mode: paysync.RunImport, Import: &paysync.ImportOptions{},
			Filter: paysync.SyncRunFilter{Provider: paysync.Stripe, ConnectionCode: "stripe"}}
		if err := db.AddSyncRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		for i, outcome := range []string{paysync.ImportLinked, paysync.ImportAmbiguous, paysync.ImportLinked, ""} {
			if err := db.Exec(ctx, "INSERT INTO import_items (run_id, provider_customer_id, outcome, seq) VALUES ($1, $2, $3, $4)",
				run.ID, fmt.Sprintf("cus_%d", i), outcome, i+1); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := db.SyncRun(ctx, org.ID, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := (paysync.ImportSummary{paysync.ImportLinked: 2, paysync.ImportAmbiguous: 1}); !reflect.DeepEqual(got.Summary, want) {
			t.Errorf("summary after the upgrade %v, want %v", got.Summary, want)
		}
	})
}

// Items finish out of order: one that is slow to finish holds no other back,
// and is still counted when it finishes many passes later.
func TestSyncRunSettlesOutOfOrder(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		run := runOverSynced(t, db, "org_order", 9, paysync.RunResync)
		var slow paysync.LinkRef
		var r *paysync.SyncRun
		for pass := 0; pass < 10; pass++ {
			var items []paysync.RunItem
			var err error
			if r, items, err = db.AdvanceSyncRun(ctx, run.ID, 3); err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if slow.ID == "" {
					slow = it.LinkRef // the first item started stays in flight
					continue
				}
				finish(t, db, it.LinkRef, paysync.SyncSynced)
			}
		}
		if r.State != paysync.RunRunning || r.Done != 8 || r.InFlight != 1 {
			t.Fatalf("with the first item in flight: %+v", r.SyncRunCounts)
		}
		finish(t, db, slow, paysync.SyncFailed)
		if r, _, err := db.AdvanceSyncRun(ctx, run.ID, 3); err != nil || r.State != paysync.RunDone || r.Done != 9 || r.Synced != 8 || r.Failed != 1 {
			t.Fatalf("after the first item finished: %+v, %v", r, err)
		}
	})
}
