package api

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paysync/paysync"
)

func TestHashKey(t *testing.T) {
	// SHA-256 of "abc", hex: the stored form must never change, or every
	// key stored so far stops working.
	if got := HashKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashKey(abc) = %s", got)
	}
}

// countingStore answers OrganizationByAPIKey for any hash that is not
// "unknown" and counts the lookups; no other method is called here.
type countingStore struct {
	paysync.Store
	lookups atomic.Int64
}

func (s *countingStore) OrganizationByAPIKey(_ context.Context, hash string) (*paysync.Organization, error) {
	s.lookups.Add(1)
	if hash == HashKey("unknown") {
		return nil, &paysync.Error{Code: paysync.EUNAUTHORIZED, Message: "unknown API key"}
	}
	return &paysync.Organization{ID: "org-" + hash[:8]}, nil
}

func TestAuthenticatorCachesForAMinute(t *testing.T) {
	st := &countingStore{}
	a := newAuthenticator(st)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	ctx := context.Background()

	for range 3 {
		org, err := a.organization(ctx, "k1")
		if err != nil || org == nil || org.ID != "org-"+HashKey("k1")[:8] {
			t.Fatalf("organization(k1) = %v, %v", org, err)
		}
	}
	if n := st.lookups.Load(); n != 1 {
		t.Fatalf("%d store lookups for one key within the TTL, want 1", n)
	}
	now = now.Add(keyCacheTTL)
	if _, err := a.organization(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if n := st.lookups.Load(); n != 2 {
		t.Fatalf("%d store lookups after the TTL, want 2", n)
	}

	// Unknown keys are not cached (a key added a moment later works) and
	// are no error.
	for range 2 {
		org, err := a.organization(ctx, "unknown")
		if org != nil || err != nil {
			t.Fatalf("organization(unknown) = %v, %v", org, err)
		}
	}
	if n := st.lookups.Load(); n != 4 {
		t.Fatalf("%d store lookups, want unknown keys looked up each time", n)
	}
	if org, err := a.organization(ctx, ""); org != nil || err != nil || st.lookups.Load() != 4 {
		t.Fatal("an empty key reached the store")
	}
}

func TestAuthenticatorCacheIsBounded(t *testing.T) {
	a := newAuthenticator(&countingStore{})
	ctx := context.Background()
	for i := range keyCacheSize + 50 {
		if _, err := a.organization(ctx, fmt.Sprint("key-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(a.cache); n > keyCacheSize {
		t.Fatalf("cache holds %d entries, bound is %d", n, keyCacheSize)
	}
}

func TestLagoSlug(t *testing.T) {
	tests := []struct {
		org  string
		seq  int64
		want string
	}{
		{"01a1fca9-2b16-704c-97b4-fa11932cb7bd", 1, "PAY-B7BD-001"},
		{"01a1fca9-2b16-704c-97b4-fa11932c0e2f", 1234, "PAY-0E2F-1234"},
	}
	for _, tt := range tests {
		if got := lagoSlug(tt.org, tt.seq); got != tt.want {
			t.Errorf("lagoSlug(%q, %d) = %q, want %q", tt.org, tt.seq, got, tt.want)
		}
	}
}
