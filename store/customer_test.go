package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/store"
)

func TestCustomerRoundTrip(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := fullCustomer("org1", "ext-full")
		got, created := put(t, db, in)
		if !created {
			t.Fatal("created = false for a new customer")
		}
		if got.ID == "" || got.SequentialID == 0 || got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
			t.Fatalf("store did not fill id, sequential id and times: %+v", got)
		}
		if got.Link.ID == "" || got.Link.CustomerID != got.ID || got.Link.OrganizationID != "org1" || got.Link.UpdatedAt.IsZero() {
			t.Fatalf("store did not fill the link's ids and time: %+v", got.Link)
		}
		for _, m := range got.Metadata {
			if m.ID == "" || m.CreatedAt.IsZero() {
				t.Fatalf("metadata item without id or creation time: %+v", m)
			}
		}
		// Every field the caller set comes back as given, times normalized.
		want := fullCustomer("org1", "ext-full")
		want.ID, want.SequentialID, want.CreatedAt, want.UpdatedAt = got.ID, got.SequentialID, got.CreatedAt, got.UpdatedAt
		for i := range want.Metadata {
			want.Metadata[i].ID, want.Metadata[i].CreatedAt = got.Metadata[i].ID, got.Metadata[i].CreatedAt
		}
		wl := want.Link
		wl.ID, wl.CustomerID, wl.OrganizationID, wl.UpdatedAt = got.Link.ID, got.ID, "org1", got.Link.UpdatedAt
		wl.PendingSince = wl.PendingSince.UTC().Truncate(time.Microsecond)
		wl.SyncedAt = ptr(wl.SyncedAt.UTC().Truncate(time.Microsecond))
		sameCustomer(t, "upsert result", got, want)

		byID, err := db.Customer(ctx, "org1", paysync.CustomerKey{ID: got.ID})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "by id", byID, got)
		byExt, err := db.Customer(ctx, "org1", paysync.CustomerKey{ExternalID: "ext-full"})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "by external id", byExt, got)
		byEmail, err := db.Customer(ctx, "org1", paysync.CustomerKey{Email: "billing@acme.EXAMPLE"})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "by email", byEmail, got)
		byLink, err := db.LinkCustomer(ctx, got.Link.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "by link", byLink, got)
		list, total, err := db.Customers(ctx, "org1", paysync.CustomerFilter{})
		if err != nil || total != 1 || len(list) != 1 {
			t.Fatalf("list: %d of %d, %v", len(list), total, err)
		}
		sameCustomer(t, "listed", list[0], got)

		// Unset optional values stay unset: nil pointers, nil Properties, no link.
		bare, _ := put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: "ext-bare", Email: "billing@acme.example"})
		if bare.Link != nil || bare.Properties != nil || bare.NetPaymentTerm != nil || bare.TaxRate != nil ||
			bare.InvoiceGracePeriod != nil || bare.TaxCodes != nil || bare.Metadata != nil {
			t.Fatalf("bare customer gained values: %+v", bare)
		}
		read, err := db.Customer(ctx, "org1", paysync.CustomerKey{ID: bare.ID})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "bare by id", read, bare)
		if bare.SequentialID <= got.SequentialID {
			t.Fatalf("sequential id %d after %d", bare.SequentialID, got.SequentialID)
		}
		// Email lookup takes the first customer created with that email.
		first, err := db.Customer(ctx, "org1", paysync.CustomerKey{Email: "BILLING@acme.example"})
		if err != nil || first.ID != got.ID {
			t.Fatalf("by shared email: %v, %v; want the first customer %s", first, err, got.ID)
		}
		// A link with only the defaults round-trips too (zero PendingSince, nil SyncedAt and LastError).
		minimal := &paysync.Customer{OrganizationID: "org1", ExternalID: "ext-min",
			Link: &paysync.ProviderLink{Provider: paysync.Adyen, State: paysync.SyncNone}}
		stored, _ := put(t, db, minimal)
		read, err = db.Customer(ctx, "org1", paysync.CustomerKey{ExternalID: "ext-min"})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "minimal link", read, stored)

		_, err = db.Customer(ctx, "org1", paysync.CustomerKey{ID: "no-such-id"})
		wantCode(t, err, paysync.ENOTFOUND)
		var perr *paysync.Error
		if !errors.As(err, &perr) || perr.Resource != "customer" {
			t.Fatalf("not found error %#v", err)
		}
		_, err = db.Customer(ctx, "org1", paysync.CustomerKey{Email: "nobody@example.com"})
		wantCode(t, err, paysync.ENOTFOUND)
	})
}

func TestUpsertIdempotent(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first, created := put(t, db, fullCustomer("org1", "ext-1"))
		if !created {
			t.Fatal("first upsert: created = false")
		}
		second, created := put(t, db, fullCustomer("org1", "ext-1"))
		if created {
			t.Fatal("second upsert: created = true")
		}
		// Same input: nothing changed, so nothing moved, times and ids included.
		sameCustomer(t, "second upsert", second, first)
		_, total, err := db.Customers(ctx, "org1", paysync.CustomerFilter{})
		if err != nil || total != 1 {
			t.Fatalf("total %d, %v; want 1", total, err)
		}

		// A changed value keeps its item's id; a new key gets a new id; a
		// dropped key is gone.
		next := fullCustomer("org1", "ext-1")
		next.Metadata = []paysync.Metadata{{Key: "seats", Value: "15"}, {Key: "region", Value: "eu"}}
		third, created := put(t, db, next)
		if created {
			t.Fatal("third upsert: created = true")
		}
		seats := first.Metadata[1]
		if m := third.Metadata[0]; m.ID != seats.ID || !m.CreatedAt.Equal(seats.CreatedAt) || m.Value != "15" {
			t.Fatalf("seats item %+v, want id %s and creation time %s kept", m, seats.ID, seats.CreatedAt)
		}
		if m := third.Metadata[1]; m.ID == "" || m.ID == first.Metadata[0].ID || m.ID == seats.ID {
			t.Fatalf("region item id %q is not new", m.ID)
		}
		if len(third.Metadata) != 2 {
			t.Fatalf("metadata %+v", third.Metadata)
		}
		if third.UpdatedAt.Before(first.UpdatedAt) || !third.CreatedAt.Equal(first.CreatedAt) || third.SequentialID != first.SequentialID {
			t.Fatalf("update moved created_at or sequential id: %+v", third)
		}
		read, err := db.Customer(ctx, "org1", paysync.CustomerKey{ExternalID: "ext-1"})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "after metadata change", read, third)
	})
}

func TestUpsertLinkLifecycle(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c, _ := put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: "ext-1", Name: "A"})
		if c.Link != nil {
			t.Fatal("link out of nowhere")
		}
		update := func(f func(c *paysync.Customer)) *paysync.Customer {
			t.Helper()
			got, created, err := db.UpsertCustomer(ctx, "org1", "ext-1", func(existing *paysync.Customer) (*paysync.Customer, error) {
				f(existing)
				return existing, nil
			})
			if err != nil || created {
				t.Fatalf("update: created %v, %v", created, err)
			}
			read, err := db.Customer(ctx, "org1", paysync.CustomerKey{ID: got.ID})
			if err != nil {
				t.Fatal(err)
			}
			sameCustomer(t, "read back", read, got)
			return got
		}
		withLink := update(func(c *paysync.Customer) {
			c.Link = &paysync.ProviderLink{Provider: paysync.GoCardless, ConnectionCode: "gc", SyncWithProvider: true,
				Generation: 1, State: paysync.SyncPending, PendingSince: time.Now()}
		})
		if withLink.Link == nil || withLink.Link.ID == "" {
			t.Fatal("link not added")
		}
		// The link counts as a change of the customer.
		if withLink.UpdatedAt.Before(c.UpdatedAt) {
			t.Fatalf("updated_at went back: %s < %s", withLink.UpdatedAt, c.UpdatedAt)
		}
		bumped := update(func(c *paysync.Customer) { c.Link.Generation++; c.Link.ConnectionCode = "gc2" })
		if bumped.Link.ID != withLink.Link.ID || bumped.Link.Generation != 2 || bumped.Link.ConnectionCode != "gc2" {
			t.Fatalf("link update: %+v", bumped.Link)
		}
		removed := update(func(c *paysync.Customer) { c.Link = nil })
		if removed.Link != nil {
			t.Fatal("link not removed")
		}
		_, err := db.LinkCustomer(ctx, withLink.Link.ID)
		wantCode(t, err, paysync.ENOTFOUND)
	})
}

func TestUpsertChangeErrorRollsBack(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		before, _ := put(t, db, fullCustomer("org1", "ext-1"))
		boom := errors.New("boom")
		_, _, err := db.UpsertCustomer(ctx, "org1", "ext-1", func(existing *paysync.Customer) (*paysync.Customer, error) {
			existing.Name = "changed"
			existing.Link = nil
			return nil, boom
		})
		if err != boom {
			t.Fatalf("error %v, want the change func's error as is", err)
		}
		read, err := db.Customer(ctx, "org1", paysync.CustomerKey{ID: before.ID})
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "after a failed change", read, before)

		domainErr := &paysync.Error{Code: paysync.ECONFLICT, Message: "exists"}
		_, _, err = db.UpsertCustomer(ctx, "org1", "ext-new", func(existing *paysync.Customer) (*paysync.Customer, error) {
			if existing != nil {
				t.Error("existing for a new external id")
			}
			return nil, domainErr
		})
		if err != domainErr {
			t.Fatalf("error %v, want %v", err, domainErr)
		}
		_, err = db.Customer(ctx, "org1", paysync.CustomerKey{ExternalID: "ext-new"})
		wantCode(t, err, paysync.ENOTFOUND)

		// A write that fails halfway (the customer inserted, then its link
		// refused: the link id is taken) leaves nothing behind either.
		_, _, err = db.UpsertCustomer(ctx, "org1", "ext-half", func(*paysync.Customer) (*paysync.Customer, error) {
			return &paysync.Customer{Link: &paysync.ProviderLink{ID: before.Link.ID, Provider: paysync.Stripe}}, nil
		})
		if err == nil {
			t.Fatal("a link id used twice was accepted")
		}
		_, err = db.Customer(ctx, "org1", paysync.CustomerKey{ExternalID: "ext-half"})
		wantCode(t, err, paysync.ENOTFOUND)
		read, err = db.LinkCustomer(ctx, before.Link.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameCustomer(t, "the link's owner", read, before)
	})
}

func TestTenantIsolation(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, createdA := put(t, db, &paysync.Customer{OrganizationID: "org-a", ExternalID: "shared", Email: "x@example.com"})
		b, createdB := put(t, db, &paysync.Customer{OrganizationID: "org-b", ExternalID: "shared", Email: "x@example.com",
			Link: &paysync.ProviderLink{Provider: paysync.Stripe, State: paysync.SyncNone}})
		if !createdA || !createdB || a.ID == b.ID {
			t.Fatalf("one external id in two organizations must be two customers: %s %s", a.ID, b.ID)
		}
		for _, key := range []paysync.CustomerKey{{ID: a.ID}} {
			_, err := db.Customer(ctx, "org-b", key)
			wantCode(t, err, paysync.ENOTFOUND)
		}
		got, err := db.Customer(ctx, "org-b", paysync.CustomerKey{ExternalID: "shared"})
		if err != nil || got.ID != b.ID {
			t.Fatalf("org-b by external id: %v, %v", got, err)
		}
		got, err = db.Customer(ctx, "org-a", paysync.CustomerKey{Email: "X@example.com"})
		if err != nil || got.ID != a.ID {
			t.Fatalf("org-a by email: %v, %v", got, err)
		}
		list, total, err := db.Customers(ctx, "org-a", paysync.CustomerFilter{})
		if err != nil || total != 1 || len(list) != 1 || list[0].ID != a.ID {
			t.Fatalf("org-a list: %v of %d, %v", list, total, err)
		}
		wantCode(t, db.DeleteCustomer(ctx, "org-b", a.ID), paysync.ENOTFOUND)
		if _, err := db.Customer(ctx, "org-a", paysync.CustomerKey{ID: a.ID}); err != nil {
			t.Fatalf("another organization's delete removed the customer: %v", err)
		}
		// An upsert in org-a never sees org-b's customer.
		_, _, err = db.UpsertCustomer(ctx, "org-c", "shared", func(existing *paysync.Customer) (*paysync.Customer, error) {
			if existing != nil {
				t.Errorf("org-c saw %s", existing.ID)
			}
			return &paysync.Customer{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestCustomersPaging(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 105
		for i := range n {
			put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: fmt.Sprintf("ext-%03d", i)})
		}
		put(t, db, &paysync.Customer{OrganizationID: "org2", ExternalID: "other"})
		page := func(f paysync.CustomerFilter) []*paysync.Customer {
			t.Helper()
			list, total, err := db.Customers(ctx, "org1", f)
			if err != nil || total != n {
				t.Fatalf("%+v: total %d, %v; want %d", f, total, err, n)
			}
			return list
		}
		var all []*paysync.Customer
		for p := 1; p <= 11; p++ {
			all = append(all, page(paysync.CustomerFilter{Page: p, PerPage: 10})...)
		}
		if len(all) != n {
			t.Fatalf("%d customers over 11 pages, want %d", len(all), n)
		}
		for i, c := range all {
			if want := fmt.Sprintf("ext-%03d", i); c.ExternalID != want {
				t.Fatalf("position %d: %s, want %s (oldest first)", i, c.ExternalID, want)
			}
			if i > 0 && c.SequentialID <= all[i-1].SequentialID {
				t.Fatalf("sequential ids not increasing: %d after %d", c.SequentialID, all[i-1].SequentialID)
			}
		}
		if got := page(paysync.CustomerFilter{Page: 12, PerPage: 10}); len(got) != 0 {
			t.Fatalf("past the end: %d customers", len(got))
		}
		if got := page(paysync.CustomerFilter{}); len(got) != 20 || got[0].ExternalID != "ext-000" {
			t.Fatalf("defaults: %d customers from %s, want 20 from the first", len(got), got[0].ExternalID)
		}
		if got := page(paysync.CustomerFilter{Page: -3, PerPage: 5}); len(got) != 5 || got[0].ExternalID != "ext-000" {
			t.Fatalf("page below 1: %d customers from %s, want the first page", len(got), got[0].ExternalID)
		}
		if got := page(paysync.CustomerFilter{Page: 1, PerPage: 1000}); len(got) != 100 {
			t.Fatalf("per page 1000: %d customers, want the cap of 100", len(got))
		}
		list, total, err := db.Customers(ctx, "org-empty", paysync.CustomerFilter{})
		if err != nil || total != 0 || len(list) != 0 {
			t.Fatalf("empty organization: %d of %d, %v", len(list), total, err)
		}
	})
}

func TestDeleteCustomer(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := fullCustomer("org1", "ext-1")
		in.Link.State, in.Link.PendingSince = paysync.SyncPending, time.Now().Add(-time.Hour)
		c, _ := put(t, db, in)
		if refs, _, err := db.PendingLinks(ctx, time.Now(), paysync.PendingCursor{}, 10); err != nil || len(refs) != 1 {
			t.Fatalf("pending before delete: %v, %v", refs, err)
		}
		if err := db.DeleteCustomer(ctx, "org1", c.ID); err != nil {
			t.Fatal(err)
		}
		_, err := db.Customer(ctx, "org1", paysync.CustomerKey{ID: c.ID})
		wantCode(t, err, paysync.ENOTFOUND)
		_, err = db.LinkCustomer(ctx, c.Link.ID)
		wantCode(t, err, paysync.ENOTFOUND)
		if refs, _, err := db.PendingLinks(ctx, time.Now(), paysync.PendingCursor{}, 10); err != nil || len(refs) != 0 {
			t.Fatalf("the link outlived its customer: %v, %v", refs, err)
		}
		ok, err := db.RecordSync(ctx, c.Link.Ref(), paysync.SyncResult{State: paysync.SyncSynced})
		if err != nil || ok {
			t.Fatalf("RecordSync on a deleted link: %v, %v", ok, err)
		}
		wantCode(t, db.DeleteCustomer(ctx, "org1", c.ID), paysync.ENOTFOUND)

		again, created := put(t, db, fullCustomer("org1", "ext-1"))
		if !created || again.ID == c.ID || again.Link.ID == c.Link.ID {
			t.Fatalf("re-creating a deleted external id: created %v, id %s (was %s)", created, again.ID, c.ID)
		}
	})
}

// TestConcurrentUpserts: upserts of one new external id serialize. Every
// change func sees the previous one's write, so counters in the customer
// (metadata) and in its link (generation) count them all; none fails on the
// insert race.
func TestConcurrentUpserts(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 32
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		var mu sync.Mutex
		created := 0
		start := make(chan struct{}) // all at once, to make the insert race likely
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				_, c, err := db.UpsertCustomer(ctx, "org1", "same", func(existing *paysync.Customer) (*paysync.Customer, error) {
					if existing == nil {
						return &paysync.Customer{Metadata: []paysync.Metadata{{Key: "count", Value: "1"}},
							Link: &paysync.ProviderLink{Provider: paysync.Stripe, Generation: 1}}, nil
					}
					v, _ := existing.MetadataValue("count")
					var count int
					fmt.Sscan(v, &count)
					existing.Metadata = []paysync.Metadata{{Key: "count", Value: fmt.Sprint(count + 1)}}
					existing.Link.Generation++
					return existing, nil
				})
				if c {
					mu.Lock()
					created++
					mu.Unlock()
				}
				errs <- err
			}()
			// Distinct new customers at the same time never fail either.
			go func() {
				defer wg.Done()
				<-start
				_, _, err := db.UpsertCustomer(ctx, "org1", fmt.Sprintf("other-%d", i), func(*paysync.Customer) (*paysync.Customer, error) {
					return &paysync.Customer{}, nil
				})
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent upsert: %v", err)
			}
		}
		if created != 1 {
			t.Fatalf("%d upserts reported created, want 1", created)
		}
		c, err := db.Customer(ctx, "org1", paysync.CustomerKey{ExternalID: "same"})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := c.MetadataValue("count"); v != fmt.Sprint(n) || c.Link.Generation != n {
			t.Fatalf("count %s, generation %d, want %d: an upsert did not see the one before it", v, c.Link.Generation, n)
		}
		if _, total, err := db.Customers(ctx, "org1", paysync.CustomerFilter{}); err != nil || total != n+1 {
			t.Fatalf("total %d, %v; want %d", total, err, n+1)
		}
	})
}

func TestUpsertRejectsIdentityChange(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: "ext-1"})
		_, _, err := db.UpsertCustomer(ctx, "org1", "ext-1", func(existing *paysync.Customer) (*paysync.Customer, error) {
			existing.ExternalID = "ext-2"
			return existing, nil
		})
		if err == nil {
			t.Fatal("changing the external id inside an upsert must fail")
		}
		if _, err := db.Customer(ctx, "org1", paysync.CustomerKey{ExternalID: "ext-1"}); err != nil {
			t.Fatalf("customer lost: %v", err)
		}
	})
}
