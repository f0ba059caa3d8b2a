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

func pendingCustomer(t *testing.T, db *store.DB, ext string, since time.Time) *paysync.Customer {
	t.Helper()
	c, _ := put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: ext,
		Link: &paysync.ProviderLink{Provider: paysync.Stripe, ConnectionCode: "main", SyncWithProvider: true,
			Generation: 1, State: paysync.SyncPending, PendingSince: since}})
	return c
}

func link(t *testing.T, db *store.DB, id string) *paysync.ProviderLink {
	t.Helper()
	c, err := db.LinkCustomer(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Link
}

func TestRecordSync(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := pendingCustomer(t, db, "ext-1", time.Now())
		ref := c.Link.Ref()
		record := func(ref paysync.LinkRef, r paysync.SyncResult) bool {
			t.Helper()
			ok, err := db.RecordSync(ctx, ref, r)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}

		// Another generation's outcome never lands.
		stale := paysync.LinkRef{ID: ref.ID, Generation: ref.Generation - 1}
		if record(stale, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_old"}) {
			t.Fatal("a stale generation updated the link")
		}
		if record(paysync.LinkRef{ID: "no-such-link", Generation: 1}, paysync.SyncResult{State: paysync.SyncSynced}) {
			t.Fatal("an unknown link was updated")
		}
		if l := link(t, db, ref.ID); !reflect.DeepEqual(l, c.Link) {
			t.Fatalf("ignored results changed the link: %+v", l)
		}

		// A retryable failure: error stored, still pending, attempt counted.
		perr := &paysync.ProviderError{Provider: paysync.Stripe, Code: "timeout", Message: "took too long", HTTPStatus: 504,
			Retryable: true, RetryAfter: 2 * time.Second}
		if !record(ref, paysync.SyncResult{State: paysync.SyncPending, Error: perr}) {
			t.Fatal("current generation not updated")
		}
		l := link(t, db, ref.ID)
		if l.State != paysync.SyncPending || l.Attempts != 1 || !reflect.DeepEqual(l.LastError, perr) || l.SyncedAt != nil {
			t.Fatalf("after a failure: %+v (error %+v)", l, l.LastError)
		}
		if l.UpdatedAt.Before(c.Link.UpdatedAt) {
			t.Fatalf("updated_at went back: %s < %s", l.UpdatedAt, c.Link.UpdatedAt)
		}

		// Success: id and payment method written, error cleared, synced_at set.
		if !record(ref, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_1", HasPaymentMethod: true}) {
			t.Fatal("success not recorded")
		}
		l = link(t, db, ref.ID)
		if l.State != paysync.SyncSynced || l.ProviderCustomerID != "cus_1" || !l.HasPaymentMethod || l.LastError != nil ||
			l.Attempts != 2 || l.SyncedAt == nil || l.Generation != ref.Generation {
			t.Fatalf("after success: %+v", l)
		}
		syncedAt := *l.SyncedAt

		// A late failure of the same generation does not downgrade it.
		if record(ref, paysync.SyncResult{State: paysync.SyncFailed, Error: &paysync.ProviderError{Code: "invalid"}}) {
			t.Fatal("a synced link was downgraded to failed")
		}
		if record(ref, paysync.SyncResult{State: paysync.SyncPending}) {
			t.Fatal("a synced link was downgraded to pending")
		}
		if l2 := link(t, db, ref.ID); !reflect.DeepEqual(l2, l) {
			t.Fatalf("refused downgrades changed the link: %+v", l2)
		}

		// Synced again (a payment method refresh) keeps the provider id when none is given.
		if !record(ref, paysync.SyncResult{State: paysync.SyncSynced, HasPaymentMethod: false}) {
			t.Fatal("synced to synced refused")
		}
		l = link(t, db, ref.ID)
		if l.ProviderCustomerID != "cus_1" || l.HasPaymentMethod || l.Attempts != 3 || l.SyncedAt.Before(syncedAt) {
			t.Fatalf("after refresh: %+v", l)
		}

		// A permanent failure of a pending link is stored as failed.
		d := pendingCustomer(t, db, "ext-2", time.Now())
		perm := &paysync.ProviderError{Provider: paysync.Stripe, Code: "invalid_request_error", Message: "bad email", HTTPStatus: 400}
		if !record(d.Link.Ref(), paysync.SyncResult{State: paysync.SyncFailed, Error: perm}) {
			t.Fatal("failure not recorded")
		}
		if l := link(t, db, d.Link.ID); l.State != paysync.SyncFailed || !reflect.DeepEqual(l.LastError, perm) || l.ProviderCustomerID != "" {
			t.Fatalf("after permanent failure: %+v", l)
		}
	})
}

func TestPendingLinks(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Now().Add(-time.Hour)
		// Created out of order, so that the order comes from pending_since.
		c2 := pendingCustomer(t, db, "ext-2", t0.Add(2*time.Minute))
		c0 := pendingCustomer(t, db, "ext-0", t0)
		c1 := pendingCustomer(t, db, "ext-1", t0.Add(time.Minute))
		pendingCustomer(t, db, "ext-late", t0.Add(10*time.Minute))
		synced := pendingCustomer(t, db, "ext-synced", t0.Add(-time.Minute))
		if ok, err := db.RecordSync(ctx, synced.Link.Ref(), paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus"}); err != nil || !ok {
			t.Fatalf("record: %v %v", ok, err)
		}
		put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: "ext-none",
			Link: &paysync.ProviderLink{Provider: paysync.Stripe, State: paysync.SyncNone}})
		put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: "ext-nolink"})

		refs, _, err := db.PendingLinks(ctx, t0.Add(5*time.Minute), paysync.PendingCursor{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []paysync.LinkRef{c0.Link.Ref(), c1.Link.Ref(), c2.Link.Ref()}
		if !reflect.DeepEqual(refs, want) {
			t.Fatalf("pending links %v, want %v", refs, want)
		}
		refs, cursor, err := db.PendingLinks(ctx, t0.Add(5*time.Minute), paysync.PendingCursor{}, 2)
		if err != nil || !reflect.DeepEqual(refs, want[:2]) {
			t.Fatalf("limit 2: %v, %v; want %v", refs, err, want[:2])
		}
		// The cursor moves on although the links listed are still pending;
		// links pending since the same instant are told apart by id.
		tie := pendingCustomer(t, db, "ext-tie", t0.Add(time.Minute))
		rest := []paysync.LinkRef{c2.Link.Ref()}
		if tie.Link.ID > c1.Link.ID {
			rest = []paysync.LinkRef{tie.Link.Ref(), c2.Link.Ref()}
		}
		refs, cursor, err = db.PendingLinks(ctx, t0.Add(5*time.Minute), cursor, 10)
		if err != nil || !reflect.DeepEqual(refs, rest) {
			t.Fatalf("after the cursor: %v, %v; want %v", refs, err, rest)
		}
		if refs, end, err := db.PendingLinks(ctx, t0.Add(5*time.Minute), cursor, 10); err != nil || len(refs) != 0 || end != cursor {
			t.Fatalf("after the last: %v, %+v, %v", refs, end, err)
		}
		// The bound is strict.
		refs, _, err = db.PendingLinks(ctx, t0, paysync.PendingCursor{}, 10)
		if err != nil || len(refs) != 0 {
			t.Fatalf("before t0: %v, %v", refs, err)
		}
	})
}

func TestLinkCustomerNotFound(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		_, err := db.LinkCustomer(context.Background(), fmt.Sprint("missing-", db.Dialect()))
		wantCode(t, err, paysync.ENOTFOUND)
	})
}

// A failed attempt has read nothing at the provider: what was known about
// the payment methods stays.
func TestRecordSyncFailureKeepsPaymentMethod(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := pendingCustomer(t, db, "ext-pm", time.Now())
		ref := c.Link.Ref()
		if ok, err := db.RecordSync(ctx, ref, paysync.SyncResult{State: paysync.SyncPending, HasPaymentMethod: true,
			Error: &paysync.ProviderError{Code: "x", Retryable: true}}); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if link(t, db, ref.ID).HasPaymentMethod {
			t.Fatal("a failed attempt wrote has_payment_method")
		}
		if ok, err := db.RecordSync(ctx, ref, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_pm", HasPaymentMethod: true}); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if !link(t, db, ref.ID).HasPaymentMethod {
			t.Fatal("a completed sync did not store has_payment_method")
		}
	})
}
