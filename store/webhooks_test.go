package store_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/store"
)

func wantNotFound(t testing.TB, err error, resource string) {
	t.Helper()
	var e *paysync.Error
	if !errors.As(err, &e) || e.Code != paysync.ENOTFOUND || e.Resource != resource {
		t.Fatalf("error %v, want not found %s", err, resource)
	}
}

// syncedCustomer creates a customer of org1 whose Stripe link is synced.
// A nil syncedAt stores none.
func syncedCustomer(t *testing.T, db *store.DB, ext string, has bool, syncedAt *time.Time) *paysync.Customer {
	t.Helper()
	c, _ := put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: ext,
		Link: &paysync.ProviderLink{Provider: paysync.Stripe, ConnectionCode: "main", ProviderCustomerID: "cus_" + ext,
			SyncWithProvider: true, HasPaymentMethod: has, Generation: 1, State: paysync.SyncSynced, SyncedAt: syncedAt}})
	return c
}

func pmCheckedAt(t *testing.T, db *store.DB, linkID string) *time.Time {
	t.Helper()
	at, err := db.PMCheckedAt(context.Background(), linkID)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func sameTime(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil || !got.Equal(want.Truncate(time.Microsecond)) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func TestInbox(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Now().Add(-time.Hour)
		ev := func(org, conn, eventID string, at time.Time) paysync.InboxEvent {
			return paysync.InboxEvent{OrganizationID: org, Provider: paysync.Stripe, ConnectionCode: conn, EventID: eventID,
				Type: "customer.updated", ProviderCustomerID: "cus_1", ResourceID: "cus_1", ReceivedAt: at}
		}
		add := func(events ...paysync.InboxEvent) []paysync.InboxEvent {
			t.Helper()
			added, err := db.AddInboxEvents(ctx, events)
			if err != nil {
				t.Fatal(err)
			}
			return added
		}

		// evt_1 twice in one call counts once, the first one.
		given := ev("org1", "main", "evt_2", t0)
		given.ID = "inbox-given-id"
		added := add(ev("org1", "main", "evt_1", t0.Add(2*time.Minute)), given, ev("org1", "main", "evt_1", t0.Add(3*time.Minute)))
		if len(added) != 2 || added[0].EventID != "evt_1" || added[1].EventID != "evt_2" {
			t.Fatalf("added %+v", added)
		}
		if added[0].ID == "" || added[1].ID != "inbox-given-id" {
			t.Fatalf("ids %q %q", added[0].ID, added[1].ID)
		}
		if !added[0].ReceivedAt.Equal(t0.Add(2 * time.Minute).Truncate(time.Microsecond)) {
			t.Fatalf("received at %v", added[0].ReceivedAt)
		}
		for _, e := range added {
			got, err := db.InboxEvent(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, e) {
				t.Fatalf("read back %+v, want %+v", *got, e)
			}
		}

		// Redelivered: nothing new.
		if again := add(ev("org1", "main", "evt_1", t0), ev("org1", "main", "evt_2", t0)); len(again) != 0 {
			t.Fatalf("redelivery added %+v", again)
		}
		// The same event id elsewhere is another event; ReceivedAt defaults to now.
		before := time.Now().Add(-time.Second)
		other := add(ev("org1", "other", "evt_1", t0.Add(time.Minute)), ev("org2", "main", "evt_1", t0.Add(4*time.Minute)),
			paysync.InboxEvent{OrganizationID: "org1", Provider: paysync.Adyen, ConnectionCode: "main", EventID: "evt_1"})
		if len(other) != 3 {
			t.Fatalf("other connection, organization, provider: added %+v", other)
		}
		if now := other[2].ReceivedAt; now.Before(before) || now.After(time.Now()) {
			t.Fatalf("default received at %v", now)
		}

		unprocessed := func(before time.Time, limit int) []string {
			t.Helper()
			ids, err := db.UnprocessedInbox(ctx, before, limit)
			if err != nil {
				t.Fatal(err)
			}
			return ids
		}
		// Oldest first; the bound is strict; the one received now is later.
		want := []string{added[1].ID, other[0].ID, added[0].ID, other[1].ID}
		if ids := unprocessed(t0.Add(10*time.Minute), 10); !reflect.DeepEqual(ids, want) {
			t.Fatalf("unprocessed %v, want %v", ids, want)
		}
		if ids := unprocessed(t0.Add(10*time.Minute), 2); !reflect.DeepEqual(ids, want[:2]) {
			t.Fatalf("limit 2: %v", ids)
		}
		if ids := unprocessed(t0, 10); len(ids) != 0 {
			t.Fatalf("before t0: %v", ids)
		}

		if err := db.MarkInboxProcessed(ctx, added[1].ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.InboxEvent(ctx, added[1].ID)
		if err != nil || got.ProcessedAt == nil || got.ProcessedAt.Before(before) {
			t.Fatalf("processed: %+v, %v", got, err)
		}
		// Marking again is a no-op that keeps the first time.
		if err := db.MarkInboxProcessed(ctx, added[1].ID); err != nil {
			t.Fatal(err)
		}
		if again, err := db.InboxEvent(ctx, added[1].ID); err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("marked twice: %+v, %v; want %+v", again, err, got)
		}
		if ids := unprocessed(t0.Add(10*time.Minute), 10); !reflect.DeepEqual(ids, want[1:]) {
			t.Fatalf("after marking: %v, want %v", ids, want[1:])
		}

		_, err = db.InboxEvent(ctx, "missing")
		wantNotFound(t, err, "inbox_event")
		wantNotFound(t, db.MarkInboxProcessed(ctx, "missing"), "inbox_event")
		if none, err := db.AddInboxEvents(ctx, nil); err != nil || len(none) != 0 {
			t.Fatalf("no events: %v, %v", none, err)
		}
	})
}

func TestCustomerByProviderID(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c, _ := put(t, db, fullCustomer("org1", "ext-1")) // stripe, stripe_eu, cus_123
		c2, _ := put(t, db, fullCustomer("org2", "ext-1"))
		us := fullCustomer("org1", "ext-2")
		us.Link.ConnectionCode, us.Link.ProviderCustomerID = "stripe_us", "cus_456"
		put(t, db, us)
		// A link without a provider customer id yet must not match "".
		put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: "ext-3",
			Link: &paysync.ProviderLink{Provider: paysync.Stripe, ConnectionCode: "stripe_eu", State: paysync.SyncPending}})

		got, err := db.CustomerByProviderID(ctx, "org1", paysync.Stripe, "stripe_eu", "cus_123")
		if err != nil {
			t.Fatal(err)
		}
		want, err := db.Customer(ctx, "org1", paysync.CustomerKey{ID: c.ID})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "by provider id", got, want)
		sameCustomer(t, "as upserted", got, c)
		if got, err := db.CustomerByProviderID(ctx, "org2", paysync.Stripe, "stripe_eu", "cus_123"); err != nil || got.ID != c2.ID {
			t.Fatalf("org2: %+v, %v", got, err)
		}

		for _, tc := range []struct {
			org  string
			kind paysync.ProviderKind
			code string
			id   string
		}{
			{"org1", paysync.Stripe, "stripe_us", "cus_123"},
			{"org1", paysync.GoCardless, "stripe_eu", "cus_123"},
			{"org3", paysync.Stripe, "stripe_eu", "cus_123"},
			{"org1", paysync.Stripe, "stripe_eu", "cus_nope"},
			{"org1", paysync.Stripe, "stripe_eu", ""},
		} {
			_, err := db.CustomerByProviderID(ctx, tc.org, tc.kind, tc.code, tc.id)
			wantNotFound(t, err, "customer")
		}
	})
}

func TestRecordPaymentMethod(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := syncedCustomer(t, db, "ext-1", false, ptr(time.Now().Add(-2*time.Hour)))
		id := c.Link.ID
		record := func(has bool, at time.Time) bool {
			t.Helper()
			changed, err := db.RecordPaymentMethod(ctx, id, c.Link.ProviderCustomerID, has, at)
			if err != nil {
				t.Fatal(err)
			}
			return changed
		}
		t1 := time.Now().Add(-time.Hour)

		if !record(true, t1) {
			t.Fatal("first check flipping to true: not changed")
		}
		l := link(t, db, id)
		if !l.HasPaymentMethod || l.UpdatedAt.Before(c.Link.UpdatedAt) {
			t.Fatalf("after flip: %+v", l)
		}
		// Nothing but the payment method and updated_at moved.
		rest := *l
		rest.HasPaymentMethod, rest.UpdatedAt = c.Link.HasPaymentMethod, c.Link.UpdatedAt
		if !reflect.DeepEqual(&rest, c.Link) {
			t.Fatalf("other fields changed: %+v, was %+v", rest, c.Link)
		}
		sameTime(t, "checked at", pmCheckedAt(t, db, id), t1)

		// A later check with the same answer is stored but changes nothing.
		if record(true, t1.Add(2*time.Minute)) {
			t.Fatal("same value reported as changed")
		}
		sameTime(t, "later check", pmCheckedAt(t, db, id), t1.Add(2*time.Minute))
		if l2 := link(t, db, id); !reflect.DeepEqual(l2, l) {
			t.Fatalf("same value moved the link: %+v, was %+v", l2, l)
		}

		// Checks that read earlier than the stored one, or at the same time, are dropped.
		if record(false, t1.Add(time.Minute)) || record(false, t1.Add(2*time.Minute)) {
			t.Fatal("an earlier check was reported as a change")
		}
		if l2 := link(t, db, id); !l2.HasPaymentMethod {
			t.Fatal("an earlier check overwrote a later one")
		}
		sameTime(t, "after stale checks", pmCheckedAt(t, db, id), t1.Add(2*time.Minute))

		if !record(false, t1.Add(3*time.Minute)) {
			t.Fatal("flip to false: not changed")
		}
		// One microsecond later is later.
		if !record(true, t1.Add(3*time.Minute+time.Microsecond)) {
			t.Fatal("flip a microsecond later: not changed")
		}
		if l2 := link(t, db, id); !l2.HasPaymentMethod {
			t.Fatal("last flip not stored")
		}

		// A read about a customer the link no longer points at is dropped.
		if changed, err := db.RecordPaymentMethod(ctx, id, "cus_someone_else", false, t1.Add(time.Hour)); err != nil || changed {
			t.Fatalf("a read of another provider customer: %v, %v", changed, err)
		}
		if l2 := link(t, db, id); !l2.HasPaymentMethod {
			t.Fatal("a read of another provider customer was stored")
		}

		_, err := db.RecordPaymentMethod(ctx, "missing", "cus_x", true, time.Now())
		wantNotFound(t, err, "provider_link")
	})
}

// TestRecordPaymentMethodConcurrent: refreshes landing in any order and at
// once leave the answer of the latest check, and the changes they report
// are those of one serial order.
func TestRecordPaymentMethodConcurrent(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := syncedCustomer(t, db, "ext-1", false, ptr(time.Now()))
		const n = 24
		base := time.Now().Add(-time.Hour)
		// Check i answers i%2 == 1: the latest, n-1, says true.
		at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }
		start := make(chan struct{})
		var wg sync.WaitGroup
		var changes atomic.Int32
		errs := make([]error, n)
		for _, i := range rand.Perm(n) {
			wg.Go(func() {
				<-start
				changed, err := db.RecordPaymentMethod(ctx, c.Link.ID, c.Link.ProviderCustomerID, i%2 == 1, at(i))
				if changed {
					changes.Add(1)
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if l := link(t, db, c.Link.ID); !l.HasPaymentMethod {
			t.Fatal("the latest check (true) lost")
		}
		sameTime(t, "checked at", pmCheckedAt(t, db, c.Link.ID), at(n-1))
		// From false to true in a serial order of updates takes an odd
		// number of flips; a change read outside the lock breaks this.
		if k := changes.Load(); k%2 != 1 {
			t.Fatalf("%d changes reported going from false to true", k)
		}
	})
}

func TestLinksToRefresh(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Now().Add(-24 * time.Hour)
		hours := func(h int) *time.Time { return ptr(t0.Add(time.Duration(h) * time.Hour)) }
		check := func(c *paysync.Customer, has bool, at time.Time) {
			t.Helper()
			if _, err := db.RecordPaymentMethod(ctx, c.Link.ID, c.Link.ProviderCustomerID, has, at); err != nil {
				t.Fatal(err)
			}
		}

		g := syncedCustomer(t, db, "g-synced-1h", false, hours(-1))
		a := syncedCustomer(t, db, "a-synced-3h", false, hours(-3))
		b := syncedCustomer(t, db, "b-checked-2h", false, hours(-5))
		check(b, false, *hours(-2))
		// Synced without a sync time: counts as the oldest.
		h := syncedCustomer(t, db, "h-no-synced-at", false, nil)
		atBound := syncedCustomer(t, db, "c-checked-at-bound", false, hours(-6))
		check(atBound, false, t0)
		recent := syncedCustomer(t, db, "c2-checked-recently", false, hours(-6))
		check(recent, false, *hours(1))
		syncedCustomer(t, db, "d-has-pm", true, hours(-10))
		found := syncedCustomer(t, db, "d2-found-pm", false, hours(-10))
		check(found, true, *hours(-9))
		pendingCustomer(t, db, "e-pending", *hours(-10))
		put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: "f-failed",
			Link: &paysync.ProviderLink{Provider: paysync.Stripe, Generation: 1, State: paysync.SyncFailed}})

		want := []string{h.Link.ID, a.Link.ID, b.Link.ID, g.Link.ID}
		for _, tc := range []struct {
			limit int
			want  []string
		}{{10, want}, {2, want[:2]}, {0, want}} {
			ids, err := db.LinksToRefresh(ctx, t0, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Fatalf("limit %d: %v, want %v", tc.limit, ids, tc.want)
			}
		}
	})
}

func TestRecordSyncChecksPaymentMethod(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := pendingCustomer(t, db, "ext-1", time.Now())
		ref := c.Link.Ref()
		if ok, err := db.RecordSync(ctx, ref, paysync.SyncResult{State: paysync.SyncPending,
			Error: &paysync.ProviderError{Code: "timeout", Retryable: true}}); err != nil || !ok {
			t.Fatalf("record failure: %v, %v", ok, err)
		}
		if at := pmCheckedAt(t, db, c.Link.ID); at != nil {
			t.Fatalf("a failed attempt counted as a check at %v", at)
		}
		if ok, err := db.RecordSync(ctx, ref, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_1"}); err != nil || !ok {
			t.Fatalf("record success: %v, %v", ok, err)
		}
		l := link(t, db, c.Link.ID)
		sameTime(t, "checked at", pmCheckedAt(t, db, c.Link.ID), *l.SyncedAt)
		// A refresh that read before the sync finished is older news.
		if changed, err := db.RecordPaymentMethod(ctx, c.Link.ID, l.ProviderCustomerID, true, l.SyncedAt.Add(-time.Second)); err != nil || changed {
			t.Fatalf("stale refresh: %v, %v", changed, err)
		}
		if l := link(t, db, c.Link.ID); l.HasPaymentMethod {
			t.Fatal("a refresh older than the sync overwrote it")
		}
		if ids, err := db.LinksToRefresh(ctx, l.SyncedAt.Add(time.Second), 10); err != nil || !reflect.DeepEqual(ids, []string{l.ID}) {
			t.Fatalf("to refresh after the sync: %v, %v", ids, err)
		}
		if ids, err := db.LinksToRefresh(ctx, *l.SyncedAt, 10); err != nil || len(ids) != 0 {
			t.Fatalf("a fresh sync is due for a refresh: %v, %v", ids, err)
		}
	})
}

func TestWebhookEndpoints(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		add := func(e *paysync.WebhookEndpoint) *paysync.WebhookEndpoint {
			t.Helper()
			if err := db.AddWebhookEndpoint(ctx, e); err != nil {
				t.Fatal(err)
			}
			return e
		}
		before := time.Now().Add(-time.Second)
		e1 := add(&paysync.WebhookEndpoint{OrganizationID: "org1", URL: "https://a.example/hook", SignatureAlgo: "hmac"})
		if e1.ID == "" || e1.CreatedAt.Before(before) {
			t.Fatalf("not filled: %+v", e1)
		}
		e2 := add(&paysync.WebhookEndpoint{OrganizationID: "org1", URL: "https://b.example/hook", SignatureAlgo: "hmac",
			CreatedAt: e1.CreatedAt.Add(time.Second)})
		// Another organization may use the same URL.
		o1 := add(&paysync.WebhookEndpoint{OrganizationID: "org2", URL: "https://a.example/hook", SignatureAlgo: "hmac"})

		err := db.AddWebhookEndpoint(ctx, &paysync.WebhookEndpoint{OrganizationID: "org1", URL: "https://a.example/hook", SignatureAlgo: "hmac"})
		var pe *paysync.Error
		if !errors.As(err, &pe) || pe.Code != paysync.ECONFLICT || pe.Resource != "webhook_endpoint" ||
			!reflect.DeepEqual(pe.Fields, map[string][]string{"webhook_url": {"value_already_exist"}}) {
			t.Fatalf("duplicate: %v", err)
		}

		list := func(org string) []*paysync.WebhookEndpoint {
			t.Helper()
			es, err := db.WebhookEndpoints(ctx, org)
			if err != nil {
				t.Fatal(err)
			}
			return es
		}
		if es := list("org1"); !reflect.DeepEqual(es, []*paysync.WebhookEndpoint{e1, e2}) {
			t.Fatalf("org1 endpoints %+v", es)
		}
		if es := list("org2"); !reflect.DeepEqual(es, []*paysync.WebhookEndpoint{o1}) {
			t.Fatalf("org2 endpoints %+v", es)
		}
		if es := list("org3"); len(es) != 0 {
			t.Fatalf("org3 endpoints %+v", es)
		}
		if got, err := db.WebhookEndpoint(ctx, "org1", e1.ID); err != nil || !reflect.DeepEqual(got, e1) {
			t.Fatalf("get: %+v, %v", got, err)
		}

		// Another organization's endpoint is not found, and not deleted.
		_, err = db.WebhookEndpoint(ctx, "org2", e1.ID)
		wantNotFound(t, err, "webhook_endpoint")
		wantNotFound(t, db.DeleteWebhookEndpoint(ctx, "org2", e1.ID), "webhook_endpoint")
		if err := db.DeleteWebhookEndpoint(ctx, "org1", e1.ID); err != nil {
			t.Fatal(err)
		}
		wantNotFound(t, db.DeleteWebhookEndpoint(ctx, "org1", e1.ID), "webhook_endpoint")
		_, err = db.WebhookEndpoint(ctx, "org1", e1.ID)
		wantNotFound(t, err, "webhook_endpoint")
		if es := list("org1"); !reflect.DeepEqual(es, []*paysync.WebhookEndpoint{e2}) {
			t.Fatalf("after delete %+v", es)
		}
		// A deleted URL can be added again.
		add(&paysync.WebhookEndpoint{OrganizationID: "org1", URL: "https://a.example/hook", SignatureAlgo: "hmac"})
	})
}

func TestWebhookHMACKey(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, err := db.EnsureOrganization(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		other, err := db.EnsureOrganization(ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		// First uses at once agree on one key.
		const n = 8
		keys := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { keys[i], errs[i] = db.WebhookHMACKey(ctx, org.ID) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if keys[i] != keys[0] {
				t.Fatalf("keys %q and %q", keys[i], keys[0])
			}
		}
		if u, err := uuid.Parse(keys[0]); err != nil || u.Version() != 4 || u.String() != keys[0] {
			t.Fatalf("key %q is not a UUID v4 (%v)", keys[0], err)
		}
		if again, err := db.WebhookHMACKey(ctx, org.ID); err != nil || again != keys[0] {
			t.Fatalf("again: %q, %v; want %q", again, err, keys[0])
		}
		if k, err := db.WebhookHMACKey(ctx, other.ID); err != nil || k == keys[0] || k == "" {
			t.Fatalf("other organization's key %q, %v", k, err)
		}

		if err := db.SetWebhookHMACKey(ctx, org.ID, "configured-key"); err != nil {
			t.Fatal(err)
		}
		if k, err := db.WebhookHMACKey(ctx, org.ID); err != nil || k != "configured-key" {
			t.Fatalf("after set: %q, %v", k, err)
		}
		wantCode(t, db.SetWebhookHMACKey(ctx, org.ID, ""), paysync.EINVALID)
		_, err = db.WebhookHMACKey(ctx, "missing")
		wantNotFound(t, err, "organization")
		wantNotFound(t, db.SetWebhookHMACKey(ctx, "missing", "k"), "organization")
	})
}

func TestDeliveries(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		before := time.Now().Add(-time.Second)
		d1 := &paysync.Delivery{OrganizationID: "org1", EndpointID: "ep1", URL: "https://a.example/hook",
			WebhookType: paysync.EventPaymentProviderCreated, Body: []byte(`{"customer":{"external_id":"ext-1"}}`)}
		d2 := &paysync.Delivery{OrganizationID: "org1", EndpointID: "ep2", URL: "https://b.example/hook",
			WebhookType: paysync.EventPaymentMethodUpdated, Body: []byte{0, 1, 0xff, '\n'}}
		if err := db.AddDeliveries(ctx, []*paysync.Delivery{d1, d2}); err != nil {
			t.Fatal(err)
		}
		if d1.ID == "" || d2.ID == "" || d1.ID == d2.ID || d1.CreatedAt.Before(before) {
			t.Fatalf("not filled: %+v %+v", d1, d2)
		}
		get := func(id string) *paysync.Delivery {
			t.Helper()
			d, err := db.Delivery(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		for _, d := range []*paysync.Delivery{d1, d2} {
			if got := get(d.ID); !reflect.DeepEqual(got, d) {
				t.Fatalf("read back %+v, want %+v", got, d)
			}
		}

		attempt := func(status int, errText string, delivered bool) *paysync.Delivery {
			t.Helper()
			if err := db.RecordDeliveryAttempt(ctx, d1.ID, status, errText, delivered); err != nil {
				t.Fatal(err)
			}
			return get(d1.ID)
		}
		if d := attempt(500, "internal server error", false); d.Attempts != 1 || d.LastStatus != 500 ||
			d.LastError != "internal server error" || d.DeliveredAt != nil {
			t.Fatalf("after a failure: %+v", d)
		}
		// Long error text is cut at 1000 characters; bytes PostgreSQL's text refuses are replaced.
		if d := attempt(0, strings.Repeat("é", 1500), false); d.LastError != strings.Repeat("é", 1000) || d.LastStatus != 0 {
			t.Fatalf("long error: %d characters, status %d", utf8.RuneCountInString(d.LastError), d.LastStatus)
		}
		if d := attempt(0, "bad \xff\x00 bytes", false); d.LastError != "bad \uFFFD bytes" {
			t.Fatalf("invalid error text stored as %q", d.LastError)
		}
		delivered := attempt(200, "", true)
		if delivered.Attempts != 4 || delivered.LastStatus != 200 || delivered.LastError != "" ||
			delivered.DeliveredAt == nil || delivered.DeliveredAt.Before(before) {
			t.Fatalf("after success: %+v", delivered)
		}
		// Later attempts never clear or move delivered_at.
		if d := attempt(500, "late", false); d.Attempts != 5 || !reflect.DeepEqual(d.DeliveredAt, delivered.DeliveredAt) {
			t.Fatalf("after a late failure: %+v", d)
		}
		if d := attempt(200, "", true); !reflect.DeepEqual(d.DeliveredAt, delivered.DeliveredAt) {
			t.Fatalf("delivered twice: %v, want %v", d.DeliveredAt, delivered.DeliveredAt)
		}
		if got := get(d2.ID); !reflect.DeepEqual(got, d2) {
			t.Fatalf("attempts on d1 changed d2: %+v", got)
		}

		d3 := &paysync.Delivery{OrganizationID: "org1", EndpointID: "ep1", URL: "https://a.example/hook",
			WebhookType: paysync.EventCheckoutURLGenerated, Body: []byte(`{}`), CreatedAt: d1.CreatedAt.Add(time.Minute)}
		o1 := &paysync.Delivery{OrganizationID: "org2", EndpointID: "ep9", URL: "https://a.example/hook",
			WebhookType: paysync.EventPaymentProviderError, Body: []byte(`{}`)}
		if err := db.AddDeliveries(ctx, []*paysync.Delivery{d3, o1}); err != nil {
			t.Fatal(err)
		}
		list := func(org string, limit int) []string {
			t.Helper()
			ds, err := db.Deliveries(ctx, org, limit)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(ds))
			for i, d := range ds {
				ids[i] = d.ID
			}
			return ids
		}
		// d1 and d2 may share a created_at; the id orders them.
		if ids := list("org1", 10); !reflect.DeepEqual(ids, []string{d3.ID, d2.ID, d1.ID}) {
			t.Fatalf("org1 deliveries %v, want %v", ids, []string{d3.ID, d2.ID, d1.ID})
		}
		if ids := list("org1", 1); !reflect.DeepEqual(ids, []string{d3.ID}) {
			t.Fatalf("limit 1: %v", ids)
		}
		if ids := list("org2", 0); !reflect.DeepEqual(ids, []string{o1.ID}) {
			t.Fatalf("org2 deliveries %v", ids)
		}

		// One transaction: a batch that fails stores none of it.
		dupID := "delivery-dup"
		err := db.AddDeliveries(ctx, []*paysync.Delivery{
			{ID: dupID, OrganizationID: "org3", EndpointID: "ep", URL: "https://c.example", WebhookType: "t", Body: []byte(`{}`)},
			{ID: dupID, OrganizationID: "org3", EndpointID: "ep", URL: "https://c.example", WebhookType: "t", Body: []byte(`{}`)},
		})
		if err == nil {
			t.Fatal("a batch with a repeated id was stored")
		}
		_, err = db.Delivery(ctx, dupID)
		wantNotFound(t, err, "webhook_delivery")
		wantNotFound(t, db.RecordDeliveryAttempt(ctx, "missing", 200, "", true), "webhook_delivery")
	})
}

// TestMigrateUpgrade applies 0002 onward to a populated 0001 database.
func TestMigrateUpgrade(t *testing.T) {
	eachDialectAt(t, 1, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// 0005 adds customer columns today's writes need; the test is
		// about 0002 and 0003 meeting a populated database.
		if err := db.MigrateOnly(ctx, 5); err != nil {
			t.Fatal(err)
		}
		org, err := db.EnsureOrganization(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		in := fullCustomer("org1", "ext-1")
		in.Link.State, in.Link.HasPaymentMethod = paysync.SyncSynced, false
		c, _ := put(t, db, in)

		for range 2 { // the second run finds nothing to do
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.Customer(ctx, "org1", paysync.CustomerKey{ID: c.ID})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "after the upgrade", got, c)
		if o, err := db.EnsureOrganization(ctx, "acme"); err != nil || *o != *org {
			t.Fatalf("organization after the upgrade: %+v, %v; want %+v", o, err, org)
		}
		if k, err := db.WebhookHMACKey(ctx, org.ID); err != nil || k == "" {
			t.Fatalf("key of an organization from before: %q, %v", k, err)
		}
		// A link synced before 0002 was never checked: it is due.
		if ids, err := db.LinksToRefresh(ctx, time.Now(), 10); err != nil || !reflect.DeepEqual(ids, []string{c.Link.ID}) {
			t.Fatalf("to refresh: %v, %v", ids, err)
		}
		if got, err := db.CustomerByProviderID(ctx, "org1", paysync.Stripe, "stripe_eu", "cus_123"); err != nil || got.ID != c.ID {
			t.Fatalf("by provider id: %+v, %v", got, err)
		}
	})
}

// Deliveries whose enqueue failed are found again; attempted ones are not.
func TestUnsentDeliveries(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ds := []*paysync.Delivery{
			{OrganizationID: "org1", EndpointID: "ep1", URL: "https://a.example/hook", WebhookType: paysync.EventPaymentProviderCreated},
			{OrganizationID: "org1", EndpointID: "ep1", URL: "https://a.example/hook", WebhookType: paysync.EventPaymentMethodUpdated},
		}
		if err := db.AddDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordDeliveryAttempt(ctx, ds[1].ID, 500, "down", false); err != nil {
			t.Fatal(err)
		}
		ids, err := db.UnsentDeliveries(ctx, time.Now().Add(time.Second), 10)
		if err != nil || !reflect.DeepEqual(ids, []string{ds[0].ID}) {
			t.Fatalf("unsent: %v, %v", ids, err)
		}
		if ids, _ := db.UnsentDeliveries(ctx, time.Now().Add(-time.Hour), 10); len(ids) != 0 {
			t.Errorf("deliveries newer than the bound listed: %v", ids)
		}
	})
}

// Notifications are written in the transaction of the change they
// announce, and turned into deliveries exactly once.
func TestNotificationOutbox(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// An organization without endpoints records nothing to deliver.
		quiet := pendingCustomer(t, db, "ext-quiet", time.Now())
		if ok, err := db.RecordSync(ctx, quiet.Link.Ref(), paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_q",
			Notify: paysync.EventPaymentProviderCreated}); err != nil || !ok {
			t.Fatalf("result: %v, %v", ok, err)
		}
		if ids, _ := db.CustomerNotifications(ctx, quiet.ID); len(ids) != 0 {
			t.Fatalf("notifications without an endpoint: %v", ids)
		}
		if err := db.AddWebhookEndpoint(ctx, &paysync.WebhookEndpoint{OrganizationID: quiet.OrganizationID, URL: "https://a.example/hook"}); err != nil {
			t.Fatal(err)
		}

		c := pendingCustomer(t, db, "ext-note", time.Now())
		ref := c.Link.Ref()

		stale := paysync.LinkRef{ID: ref.ID, Generation: ref.Generation + 7}
		if ok, err := db.RecordSync(ctx, stale, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_x",
			Notify: paysync.EventPaymentProviderCreated}); err != nil || ok {
			t.Fatalf("stale result: %v, %v", ok, err)
		}
		if ids, _ := db.CustomerNotifications(ctx, c.ID); len(ids) != 0 {
			t.Fatalf("a result not applied recorded a notification: %v", ids)
		}
		if ok, err := db.RecordSync(ctx, ref, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_x",
			Notify: paysync.EventPaymentProviderCreated}); err != nil || !ok {
			t.Fatalf("result: %v, %v", ok, err)
		}
		if changed, err := db.RecordPaymentMethod(ctx, c.Link.ID, "cus_x", true, time.Now()); err != nil || !changed {
			t.Fatalf("flip: %v, %v", changed, err)
		}
		ids, err := db.CustomerNotifications(ctx, c.ID)
		if err != nil || len(ids) != 2 {
			t.Fatalf("notifications: %v, %v", ids, err)
		}
		var types []string
		for _, id := range ids {
			n, err := db.Notification(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if n.CustomerID != c.ID || n.OrganizationID != c.OrganizationID || n.ProcessedAt != nil {
				t.Fatalf("notification %+v", n)
			}
			types = append(types, n.WebhookType)
		}
		if !reflect.DeepEqual(types, []string{paysync.EventPaymentProviderCreated, paysync.EventPaymentMethodUpdated}) {
			t.Fatalf("types %v", types)
		}
		if pending, _ := db.PendingNotifications(ctx, time.Now().Add(time.Second), 10); !reflect.DeepEqual(pending, ids) {
			t.Fatalf("pending %v, want %v", pending, ids)
		}

		d := &paysync.Delivery{OrganizationID: c.OrganizationID, EndpointID: "ep", URL: "https://a.example/hook", WebhookType: types[0], Body: []byte("{}")}
		if ok, err := db.DeliverNotification(ctx, ids[0], []*paysync.Delivery{d}); err != nil || !ok {
			t.Fatalf("deliver: %v, %v", ok, err)
		}
		again := &paysync.Delivery{OrganizationID: c.OrganizationID, EndpointID: "ep", URL: "https://a.example/hook", WebhookType: types[0]}
		if ok, err := db.DeliverNotification(ctx, ids[0], []*paysync.Delivery{again}); err != nil || ok {
			t.Fatalf("second deliver: %v, %v", ok, err)
		}
		if _, err := db.Delivery(ctx, again.ID); paysync.ErrorCode(err) != paysync.ENOTFOUND {
			t.Fatalf("a second flush stored a delivery: %v", err)
		}
		if got, err := db.Delivery(ctx, d.ID); err != nil || got.URL != d.URL {
			t.Fatalf("delivery: %+v, %v", got, err)
		}
		if rest, _ := db.CustomerNotifications(ctx, c.ID); !reflect.DeepEqual(rest, ids[1:]) {
			t.Fatalf("after one delivered: %v", rest)
		}

		checkout := &paysync.Notification{OrganizationID: c.OrganizationID, CustomerID: c.ID,
			WebhookType: paysync.EventCheckoutURLGenerated, CheckoutURL: "https://pay.example/x"}
		if err := db.AddNotification(ctx, checkout); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Notification(ctx, checkout.ID); err != nil || got.CheckoutURL != checkout.CheckoutURL {
			t.Fatalf("checkout notification: %+v, %v", got, err)
		}
		if _, err := db.Notification(ctx, "missing"); paysync.ErrorCode(err) != paysync.ENOTFOUND {
			t.Fatalf("missing: %v", err)
		}
	})
}
