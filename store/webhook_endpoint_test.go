package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/store"
)

func TestWebhookEndpointFieldsAndUpdate(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := &paysync.WebhookEndpoint{OrganizationID: "org1", URL: "https://a.example/hook", SignatureAlgo: paysync.SignatureJWT,
			Name: "billing", EventTypes: []string{"customer.payment_provider_created", "customer.checkout_url_generated"}}
		if err := db.AddWebhookEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got, err := db.WebhookEndpoint(ctx, "org1", e.ID); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("read back %+v, %v; want %+v", got, err, e)
		}
		other := &paysync.WebhookEndpoint{OrganizationID: "org1", URL: "https://b.example/hook", SignatureAlgo: paysync.SignatureHMAC}
		if err := db.AddWebhookEndpoint(ctx, other); err != nil {
			t.Fatal(err)
		}

		e.URL, e.Name, e.SignatureAlgo, e.EventTypes = "https://c.example/hook", "", paysync.SignatureHMAC, nil
		if err := db.UpdateWebhookEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got, err := db.WebhookEndpoint(ctx, "org1", e.ID); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("after update %+v, %v; want %+v", got, err, e)
		}
		// The url of another endpoint of the organization is taken.
		taken := *e
		taken.URL = other.URL
		var pe *paysync.Error
		if err := db.UpdateWebhookEndpoint(ctx, &taken); !errors.As(err, &pe) || pe.Code != paysync.ECONFLICT ||
			!reflect.DeepEqual(pe.Fields, map[string][]string{"webhook_url": {"value_already_exist"}}) {
			t.Fatalf("taken url: %v", err)
		}
		// Another organization's endpoint is not found.
		foreign := *e
		foreign.OrganizationID = "org2"
		wantNotFound(t, db.UpdateWebhookEndpoint(ctx, &foreign), "webhook_endpoint")
	})
}

func TestWebhookEndpointLimit(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, err := db.EnsureOrganization(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		// Concurrent creates never pass the limit.
		errs := make([]error, paysync.MaxWebhookEndpoints+5)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				errs[i] = db.AddWebhookEndpoint(ctx, &paysync.WebhookEndpoint{OrganizationID: org.ID,
					URL: fmt.Sprintf("https://a.example/%d", i), SignatureAlgo: paysync.SignatureJWT})
			})
		}
		wg.Wait()
		var refused int
		for _, err := range errs {
			var pe *paysync.Error
			switch {
			case err == nil:
			case errors.As(err, &pe) && pe.Code == paysync.EINVALID &&
				reflect.DeepEqual(pe.Fields, map[string][]string{"base": {"Maximum number of webhook endpoints was reached"}}):
				refused++
			default:
				t.Fatalf("create: %v", err)
			}
		}
		es, err := db.WebhookEndpoints(ctx, org.ID)
		if err != nil || len(es) != paysync.MaxWebhookEndpoints || refused != 5 {
			t.Fatalf("%d endpoints (%v), %d refused", len(es), err, refused)
		}
	})
}

func TestWebhookSigningKey(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// First uses at once agree on one key.
		const n = 4
		keys := make([]any, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				k, err := db.WebhookSigningKey(ctx, "org1")
				keys[i], errs[i] = k, err
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if !reflect.DeepEqual(keys[i], keys[0]) {
				t.Fatalf("key %d differs from key 0", i)
			}
		}
		k1, err := db.WebhookSigningKey(ctx, "org1")
		if err != nil || !reflect.DeepEqual(any(k1), keys[0]) || k1.N.BitLen() != 2048 {
			t.Fatalf("again: %v (%d bits)", err, k1.N.BitLen())
		}
		k2, err := db.WebhookSigningKey(ctx, "org2")
		if err != nil || k2.N.Cmp(k1.N) == 0 {
			t.Fatalf("another organization shares the key (%v)", err)
		}
	})
}

func TestPortalLinks(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, hash, err := paysync.NewPortalToken()
		if err != nil {
			t.Fatal(err)
		}
		expires := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		l := &paysync.PortalLink{TokenHash: hash, OrganizationID: "org1", CustomerID: "c1", ExpiresAt: expires}
		if err := db.AddPortalLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		got, err := db.PortalLink(ctx, hash)
		if err != nil || !reflect.DeepEqual(got, l) {
			t.Fatalf("read back %+v, %v; want %+v", got, err, l)
		}
		// An expired link is kept until the next link is added.
		_, oldHash, _ := paysync.NewPortalToken()
		if err := db.AddPortalLink(ctx, &paysync.PortalLink{TokenHash: oldHash, OrganizationID: "org1", CustomerID: "c1",
			ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PortalLink(ctx, oldHash); err != nil {
			t.Fatal(err)
		}
		_, nextHash, _ := paysync.NewPortalToken()
		if err := db.AddPortalLink(ctx, &paysync.PortalLink{TokenHash: nextHash, OrganizationID: "org1", CustomerID: "c2", ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
		_, err = db.PortalLink(ctx, oldHash)
		wantNotFound(t, err, "portal_link")
		_, err = db.PortalLink(ctx, paysync.HashPortalToken("unknown"))
		wantNotFound(t, err, "portal_link")
	})
}
