package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// waitRun polls a sync run until it reaches state.
func (s *server) waitRun(t *testing.T, id, state string, within time.Duration) map[string]any {
	t.Helper()
	var run map[string]any
	eventually(t, within, "sync run "+id+" "+state, func() bool {
		code, body := s.do(t, "GET", "/api/v1/sync_runs/"+id, nil)
		if code != 200 {
			t.Fatalf("get run: %d %v", code, body)
		}
		run = body["sync_run"].(map[string]any)
		return run["state"] == state
	})
	return run
}

func stripeCustomerCount(t *testing.T, s *server) int {
	t.Helper()
	_, list := doJSON(t, "GET", s.URL+"/sandbox/stripe/v1/customers?limit=100", "Bearer sk_test_sandbox", nil)
	return len(list["data"].([]any))
}

func TestSyncRunsResyncAndLinkMissing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, merge(baseEnv(t), b.env(t), map[string]string{"PAYSYNC_BULK_WINDOW": "4"}))
		const n = 12
		for i := range n {
			code, body := s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
				"external_id": fmt.Sprintf("run-%02d", i), "name": "Run", "email": fmt.Sprintf("run%d@example.test", i),
				"billing_configuration": map[string]any{"payment_provider": "stripe", "sync_with_provider": true}}})
			if code != 200 {
				t.Fatalf("create: %d %v", code, body)
			}
		}
		for i := range n {
			s.waitStatus(t, fmt.Sprintf("run-%02d", i), "synced", 30*time.Second)
		}
		// Two customers with no provider at all: link_missing's work.
		for _, ext := range []string{"bare-1", "bare-2"} {
			code, body := s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
				"external_id": ext, "name": "Bare", "billing_configuration": map[string]any{"sync_with_provider": false}}})
			if code != 200 || body["customer"].(map[string]any)["billing_configuration"].(map[string]any)["payment_provider"] != nil {
				t.Fatalf("create without provider: %d %v", code, body)
			}
		}
		before := stripeCustomerCount(t, s)
		metricsURL := "http://" + s.env["PAYSYNC_METRICS_ADDR"] + "/metrics"
		resynced := map[string]string{"mode": "resync", "outcome": "synced"}
		itemsBefore, _ := find(scrape(t, metricsURL), "paysync_sync_run_items_total", resynced)

		code, body := s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{
			"mode": "resync", "filter": map[string]any{"provider": "stripe", "provider_sync_status": []string{"synced"}}}})
		if code != 200 {
			t.Fatalf("start resync run: %d %v", code, body)
		}
		run := body["sync_run"].(map[string]any)
		if run["total"] != float64(n) || run["state"] != "running" || run["mode"] != "resync" {
			t.Fatalf("new run: %v", run)
		}
		run = s.waitRun(t, run["id"].(string), "done", 60*time.Second)
		if run["done"] != float64(n) || run["synced"] != float64(n) || run["failed"] != float64(0) || run["finished_at"] == nil {
			t.Fatalf("finished run: %v", run)
		}
		if items, _ := find(scrape(t, metricsURL), "paysync_sync_run_items_total", resynced); items-itemsBefore < n {
			t.Errorf("paysync_sync_run_items_total{mode=resync,outcome=synced} rose by %v during a run of %d, want at least %d", items-itemsBefore, n, n)
		}
		if after := stripeCustomerCount(t, s); after != before {
			t.Fatalf("a resync of created customers only verifies them: stripe went from %d to %d customers", before, after)
		}
		for i := range n {
			_, c := s.do(t, "GET", fmt.Sprintf("/api/v1/customers/run-%02d", i), nil)
			if st := billing(t, c)["provider_sync_status"]; st != "synced" {
				t.Fatalf("run-%02d after the run: %v", i, st)
			}
		}

		code, body = s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{
			"mode": "link_missing", "filter": map[string]any{"provider": "gocardless"}}})
		if code != 200 {
			t.Fatalf("start link_missing run: %d %v", code, body)
		}
		run = body["sync_run"].(map[string]any)
		if run["total"] != float64(2) {
			t.Fatalf("link_missing selects the customers without a link: %v", run)
		}
		s.waitRun(t, run["id"].(string), "done", 60*time.Second)
		for _, ext := range []string{"bare-1", "bare-2"} {
			got := s.waitStatus(t, ext, "synced", 10*time.Second)
			bc := billing(t, got)
			if bc["payment_provider"] != "gocardless" || !strings.HasPrefix(fmt.Sprint(bc["provider_customer_id"]), "CU") {
				t.Fatalf("%s after link_missing: %v", ext, bc)
			}
		}

		code, body = s.do(t, "GET", "/api/v1/sync_runs", nil)
		if runs := body["sync_runs"].([]any); code != 200 || len(runs) != 2 {
			t.Fatalf("list runs: %d %v", code, body)
		}
	})
}

func TestSyncRunControlAndErrors(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[1].env(t)))
	code, body := s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{"mode": "link_missing"}})
	if code != 422 || fmt.Sprint(body["error_details"]) != "map[filter.provider:[value_is_mandatory]]" {
		t.Fatalf("link_missing without a provider: %d %v", code, body)
	}
	code, body = s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{"mode": "everything"}})
	if code != 422 || fmt.Sprint(body["error_details"]) != "map[mode:[value_is_invalid]]" {
		t.Fatalf("unknown mode: %d %v", code, body)
	}
	code, body = s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{"mode": "resync",
		"filter": map[string]any{"provider": "paypal"}}})
	if code != 422 || fmt.Sprint(body["error_details"]) != "map[filter.provider:[value_is_invalid]]" {
		t.Fatalf("unknown provider: %d %v", code, body)
	}
	code, body = s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{"mode": "link_missing",
		"filter": map[string]any{"provider": "stripe", "connection_code": "nope"}}})
	if code != 422 || fmt.Sprint(body["error_details"]) != "map[filter.connection_code:[payment_provider_not_found]]" {
		t.Fatalf("unknown connection: %d %v", code, body)
	}
	if code, body = s.do(t, "GET", "/api/v1/sync_runs/nope", nil); code != 404 || body["code"] != "sync_run_not_found" {
		t.Fatalf("unknown run: %d %v", code, body)
	}

	// A run over nothing is done at its first pass; a done run cannot be paused.
	code, body = s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{"mode": "resync",
		"filter": map[string]any{"external_ids": []string{"nobody"}}}})
	if code != 200 {
		t.Fatalf("empty run: %d %v", code, body)
	}
	id := body["sync_run"].(map[string]any)["id"].(string)
	s.waitRun(t, id, "done", 10*time.Second)
	if code, body = s.do(t, "POST", "/api/v1/sync_runs/"+id+"/pause", nil); code != 422 {
		t.Fatalf("pause a done run: %d %v", code, body)
	}
}
