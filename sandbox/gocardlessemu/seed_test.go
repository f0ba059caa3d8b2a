package gocardlessemu_test

import (
	"database/sql"
	"testing"

	"github.com/paysync/paysync/sandbox/gocardlessemu"
	"github.com/paysync/paysync/sandbox/state/statetest"
)

// Seeded customers are listed by GET /customers like created ones, and
// kept across a restart.
func TestSeed(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		boot := func() *api {
			emu, srv := statetest.Boot(t, db, "gocardless", gocardlessemu.NewWithState)
			return &api{t: t, url: srv.URL, emu: emu}
		}
		a := boot()
		r := a.call("POST", "/_sandbox/seed", `{"count": 1000, "external_id_prefix": "ext-"}`, nil)
		if r.status != 201 || r.body["created"] != 1000.0 || r.body["last_number"] != 1000.0 {
			t.Fatalf("seed: %d %v", r.status, r.body)
		}
		listed := listCustomers(t, a)
		if len(listed) != 1000 {
			t.Fatalf("listed %d customers, want 1000", len(listed))
		}
		newest := listed[0]
		if newest["given_name"] != "Customer" || newest["family_name"] != "01000" || newest["email"] != "customer-01000@example.test" ||
			newest["metadata"].(map[string]any)["external_id"] != "ext-01000" {
			t.Errorf("newest customer: %v", newest)
		}

		a = boot()
		if again := listCustomers(t, a); len(again) != 1000 || again[999]["email"] != "customer-00001@example.test" {
			t.Fatalf("after a restart: %d customers", len(again))
		}
		if r := a.call("POST", "/_sandbox/seed", `{"count": 0}`, nil); r.status != 422 {
			t.Errorf("count 0: %d %v", r.status, r.body)
		}
	})
}

// listCustomers pages through GET /customers with the after cursor,
// newest first, and checks that no customer is listed twice.
func listCustomers(t *testing.T, a *api) []map[string]any {
	t.Helper()
	var all []map[string]any
	seen := map[string]bool{}
	path := "/customers?limit=150"
	for {
		r := a.call("GET", path, "", nil)
		if r.status != 200 {
			t.Fatalf("list: %d %v", r.status, r.body)
		}
		for _, c := range r.body["customers"].([]any) {
			cus := c.(map[string]any)
			if seen[cus["id"].(string)] {
				t.Fatalf("%s listed twice", cus["id"])
			}
			seen[cus["id"].(string)] = true
			all = append(all, cus)
		}
		after, _ := object(t, r.body, "meta", "cursors", "after").(string)
		if after == "" {
			return all
		}
		path = "/customers?limit=150&after=" + after
	}
}
