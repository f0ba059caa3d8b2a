package store_test

import (
	"context"
	"math"
	"testing"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/store"
)

// A page far past the end lists nothing and counts every match, on both
// databases: (page-1)*per_page overflowed into a negative OFFSET
// (PostgreSQL: an error; SQLite: the first page).
func TestCustomersPageOverflow(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		putAll(t, db, "org1", "a", "b", "c")
		for _, f := range []paysync.CustomerFilter{
			{Page: math.MaxInt, PerPage: 100},
			{Page: math.MaxInt, PerPage: 1},
			{Page: math.MaxInt/2 + 2, PerPage: 2},
			{Page: math.MaxInt / 100, PerPage: 100},
			{Limit: 1000, Offset: math.MaxInt},
			{Limit: 1, Offset: math.MaxInt, Desc: true},
		} {
			wantListed(t, db, "org1", f, "[]", 3)
		}
	})
}

func TestPageBoundsOverflow(t *testing.T) {
	for _, f := range []paysync.CustomerFilter{
		{Page: math.MaxInt, PerPage: 100},
		{Page: math.MaxInt/2 + 2, PerPage: 2},
	} {
		if limit, offset := store.PageBounds(f); offset < 0 || limit != f.PerPage {
			t.Errorf("%+v: LIMIT %d OFFSET %d", f, limit, offset)
		}
	}
}

// Text neither database can hold (NUL, invalid UTF-8) names no customer:
// lookups, deletes and filters by it find nothing instead of failing.
func TestCustomersUnstorableKeys(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		putAll(t, db, "org1", "a")
		for _, s := range []string{"a\x00b", "\x00", "a\xffb", "\xc3"} {
			for _, key := range []paysync.CustomerKey{{ID: s}, {ExternalID: s}, {Email: s}} {
				if _, err := db.Customer(ctx, "org1", key); paysync.ErrorCode(err) != paysync.ENOTFOUND {
					t.Errorf("Customer(%+q): %v, want not found", key, err)
				}
			}
			if err := db.DeleteCustomer(ctx, "org1", s); paysync.ErrorCode(err) != paysync.ENOTFOUND {
				t.Errorf("DeleteCustomer(%q): %v, want not found", s, err)
			}
			for _, f := range []paysync.CustomerFilter{{IDs: []string{s}, Limit: 10}, {ExternalIDs: []string{s}, Limit: 10}, {Email: s, All: true}} {
				wantListed(t, db, "org1", f, "[]", 0)
			}
			wantListed(t, db, "org1", paysync.CustomerFilter{ExternalIDs: []string{s, "a"}, Limit: 10}, "[a]", 1)
		}
	})
}
