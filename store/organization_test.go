package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/store"
)

func TestOrganizations(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Processes starting at once all get the one organization.
		const n = 8
		orgs := make([]*paysync.Organization, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { orgs[i], errs[i] = db.EnsureOrganization(ctx, "acme") })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if *orgs[i] != *orgs[0] {
				t.Fatalf("EnsureOrganization returned %+v and %+v", orgs[i], orgs[0])
			}
		}
		org := orgs[0]
		if org.ID == "" || org.Name != "acme" || org.CreatedAt.IsZero() {
			t.Fatalf("organization %+v", org)
		}
		other, err := db.EnsureOrganization(ctx, "other")
		if err != nil || other.ID == org.ID {
			t.Fatalf("second organization: %+v, %v", other, err)
		}

		if n, err := db.CountAPIKeys(ctx, org.ID); err != nil || n != 0 {
			t.Fatalf("keys before: %d, %v", n, err)
		}
		for range 2 {
			if err := db.AddAPIKey(ctx, org.ID, "hash-1"); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.AddAPIKey(ctx, org.ID, "hash-2"); err != nil {
			t.Fatal(err)
		}
		if n, err := db.CountAPIKeys(ctx, org.ID); err != nil || n != 2 {
			t.Fatalf("keys: %d, %v; want 2", n, err)
		}
		if n, err := db.CountAPIKeys(ctx, other.ID); err != nil || n != 0 {
			t.Fatalf("other's keys: %d, %v; want 0", n, err)
		}
		wantCode(t, db.AddAPIKey(ctx, other.ID, "hash-1"), paysync.ECONFLICT)

		got, err := db.OrganizationByAPIKey(ctx, "hash-2")
		if err != nil || *got != *org {
			t.Fatalf("by key: %+v, %v; want %+v", got, err, org)
		}
		_, err = db.OrganizationByAPIKey(ctx, "unknown")
		wantCode(t, err, paysync.EUNAUTHORIZED)
	})
}

func TestPingAndDialect(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		// eachDialect names each subtest after its dialect.
		if d := db.Dialect(); !strings.HasSuffix(t.Name(), "/"+d) {
			t.Fatalf("dialect %q in %s", d, t.Name())
		}
	})
}

func TestRevokeAPIKey(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, err := db.EnsureOrganization(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AddAPIKey(ctx, org.ID, "hash-1"); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeAPIKey(ctx, "hash-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.OrganizationByAPIKey(ctx, "hash-1"); paysync.ErrorCode(err) != paysync.EUNAUTHORIZED {
			t.Errorf("a revoked key still authenticates: %v", err)
		}
		wantNotFound(t, db.RevokeAPIKey(ctx, "hash-1"), "api_key")
	})
}
