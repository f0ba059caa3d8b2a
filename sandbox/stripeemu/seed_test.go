package stripeemu_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/sandbox/state"
	"github.com/paysync/paysync/sandbox/state/statetest"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// Seeded customers are listed by GET /v1/customers like created ones, and
// kept across a restart; a second seed continues the numbering.
func TestSeed(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		boot := func() *client {
			_, srv := statetest.Boot(t, db, "stripe", stripeemu.NewWithState)
			return &client{t: t, base: srv.URL, key: "sk_test_unit"}
		}
		c := boot()
		began := time.Now()
		status, got := seedPost(t, c, `{"count": 1000, "external_id_prefix": "ext-", "metadata": {"source": "legacy"}}`)
		t.Logf("seeded 1000 customers in %v", time.Since(began))
		if status != http.StatusCreated || got["created"] != 1000.0 || len(got["ids"].([]any)) != 10 || got["first_number"] != 1.0 || got["last_number"] != 1000.0 {
			t.Fatalf("seed: %d %v", status, got)
		}
		listed := listAll(t, c)
		if len(listed) != 1000 {
			t.Fatalf("listed %d customers, want 1000", len(listed))
		}
		// Newest first: the last one seeded leads.
		first := listed[0]
		if first["name"] != "Customer 01000" || first["email"] != "customer-01000@example.test" {
			t.Errorf("newest customer: %v", first)
		}
		if m := first["metadata"].(map[string]any); m["external_id"] != "ext-01000" || m["source"] != "legacy" {
			t.Errorf("metadata: %v", m)
		}

		c = boot()
		if again := listAll(t, c); len(again) != 1000 || again[999]["email"] != "customer-00001@example.test" {
			t.Fatalf("after a restart: %d customers, oldest %v", len(again), again[len(again)-1])
		}
		if status, got := seedPost(t, c, `{"count": 2, "email_domain": "shop.test"}`); status != http.StatusCreated || got["first_number"] != 1001.0 {
			t.Errorf("second seed: %d %v", status, got)
		}
		if listed := listAll(t, c); listed[0]["email"] != "customer-01002@shop.test" || len(listed[0]["metadata"].(map[string]any)) != 0 {
			t.Errorf("second seed's newest: %v", listed[0])
		}
	})
}

// A seed with bad input names the field and creates nothing.
func TestSeedRefusesBadInput(t *testing.T) {
	emu, c := start(t)
	for body, field := range map[string]string{
		`{"count": 0}`:      "count",
		`{"count": 100001}`: "count",
		`{"count": 1, "email_domain": "not a host"}`: "email_domain",
		`{"count": 1, "colour": "red"}`:              "colour",
		`{"count": 1, "start": -1}`:                  "start",
	} {
		status, got := seedPost(t, c, body)
		msg, _ := got["error"].(map[string]any)["message"].(string)
		if status/100 != 4 || !strings.Contains(msg, field) {
			t.Errorf("%s: %d %v, want 4xx naming %s", body, status, got, field)
		}
	}
	if n := emu.CustomerCount(); n != 0 {
		t.Errorf("%d customers after refused seeds", n)
	}
}

func seedPost(t *testing.T, c *client, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+"/_sandbox/seed", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, out
}

// listAll pages through GET /v1/customers, newest first, and checks that
// no customer is listed twice.
func listAll(t *testing.T, c *client) []map[string]any {
	t.Helper()
	var all []map[string]any
	seen := map[string]bool{}
	form := url.Values{"limit": {"100"}}
	for {
		status, _, page := c.do(http.MethodGet, "/v1/customers", form)
		if status != http.StatusOK {
			t.Fatalf("list: %d %v", status, page)
		}
		data := page["data"].([]any)
		for _, d := range data {
			cus := d.(map[string]any)
			if seen[cus["id"].(string)] {
				t.Fatalf("%s listed twice", cus["id"])
			}
			seen[cus["id"].(string)] = true
			all = append(all, cus)
		}
		if page["has_more"] != true {
			return all
		}
		form.Set("starting_after", all[len(all)-1]["id"].(string))
	}
}

// A seed whose customers cannot be saved answers 503 and leaves none in
// memory: a restart would have lost them.
func TestSeedUnsaved(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		emu, err := stripeemu.NewWithState(context.Background(), state.New(db, "stripe"))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(emu)
		defer srv.Close()
		c := &client{t: t, base: srv.URL, key: "sk_test_unit"}
		db.Close()
		status, got := seedPost(t, c, `{"count": 10}`)
		if status != http.StatusServiceUnavailable || emu.CustomerCount() != 0 {
			t.Errorf("seed without a database: %d %v, %d customers", status, got, emu.CustomerCount())
		}
		if listed := listAll(t, c); len(listed) != 0 {
			t.Errorf("listed %d customers", len(listed))
		}
	})
}
