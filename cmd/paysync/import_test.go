package main

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

// TestImportAdoptsProviderCustomers seeds the Stripe emulator with
// customers that match paysync's by paysync's metadata, by an external id
// another integration stored, by a unique email, ambiguously and not at
// all, and imports them: each outcome as expected, nothing created at
// Stripe, and the matched customers linked with their payment methods read.
func TestImportAdoptsProviderCustomers(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, merge(baseEnv(t), b.env(t)))
		for _, c := range [][2]string{{"ext-a", "a@example.test"}, {"ext-b", "b@example.test"}, {"ext-e", "E@example.test"},
			{"ext-c", "dup@example.test"}, {"ext-d", "dup@example.test"}} {
			code, body := s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
				"external_id": c[0], "name": c[0], "email": c[1], "billing_configuration": map[string]any{"sync_with_provider": false}}})
			if code != 200 {
				t.Fatalf("create %s: %d %v", c[0], code, body)
			}
		}
		stripeIDs := map[string]string{}
		for name, form := range map[string]url.Values{
			"by-metadata": {"email": {"other@example.test"}, "metadata[paysync_external_id]": {"ext-a"}},
			"by-external": {"email": {"else@example.test"}, "metadata[customer_id]": {"ext-b"}},
			"by-email":    {"email": {"e@example.test"}},
			"ambiguous":   {"email": {"dup@example.test"}},
			"unmatched":   {"email": {"nobody@example.test"}},
		} {
			code, body := postForm(t, s.URL+"/sandbox/stripe/v1/customers", form)
			if code != 200 {
				t.Fatalf("seed %s: %d %v", name, code, body)
			}
			stripeIDs[name] = body["id"].(string)
		}
		before := stripeCustomerCount(t, s)

		start := func(dry bool) map[string]any {
			code, body := s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{
				"mode": "import", "filter": map[string]any{"provider": "stripe"}, "options": map[string]any{"dry_run": dry}}})
			if code != 200 {
				t.Fatalf("start import: %d %v", code, body)
			}
			return s.waitRun(t, body["sync_run"].(map[string]any)["id"].(string), "done", 60*time.Second)
		}
		dry := start(true)
		if got := fmt.Sprint(dry["summary"]); got != "map[ambiguous:1 unmatched:1 would_link:3]" {
			t.Fatalf("dry run summary: %s", got)
		}
		_, a := s.do(t, "GET", "/api/v1/customers/ext-a", nil)
		if billing(t, a)["payment_provider"] != nil {
			t.Fatalf("a dry run linked a customer: %v", billing(t, a))
		}

		run := start(false)
		if got := fmt.Sprint(run["summary"]); got != "map[ambiguous:1 linked:3 unmatched:1]" {
			t.Fatalf("import summary: %s (%v)", got, run)
		}
		if run["total"] != float64(5) || run["synced"] != float64(3) {
			t.Fatalf("import counts: %v", run)
		}
		for ext, name := range map[string]string{"ext-a": "by-metadata", "ext-b": "by-external", "ext-e": "by-email"} {
			_, c := s.do(t, "GET", "/api/v1/customers/"+ext, nil)
			bc := billing(t, c)
			if bc["provider_customer_id"] != stripeIDs[name] || bc["provider_sync_status"] != "synced" || bc["has_payment_method"] != false {
				t.Fatalf("%s after import: %v", ext, bc)
			}
		}
		if after := stripeCustomerCount(t, s); after != before {
			t.Fatalf("an import created provider customers: %d -> %d", before, after)
		}
		code, items := s.do(t, "GET", "/api/v1/sync_runs/"+run["id"].(string)+"/items?outcome=ambiguous,unmatched", nil)
		list, _ := items["items"].([]any)
		if code != 200 || len(list) != 2 {
			t.Fatalf("ambiguous and unmatched items: %d %v", code, items)
		}

		// Adyen has no customer list.
		code, body := s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{
			"mode": "import", "filter": map[string]any{"provider": "adyen"}}})
		if code != 422 || fmt.Sprint(body["error_details"]) != "map[filter.provider:[feature_not_supported]]" {
			t.Fatalf("adyen import: %d %v", code, body)
		}
	})
}
