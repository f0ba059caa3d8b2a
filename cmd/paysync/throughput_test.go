package main

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// createCustomers creates n customers ext-prefix-i through the API, eight
// requests at a time, each with the billing configuration bc.
func createCustomers(t *testing.T, s *server, prefix string, n int, bc map[string]any) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				code, body := s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
					"external_id": fmt.Sprintf("%s-%d", prefix, i), "name": "Load", "billing_configuration": bc}})
				if code != 200 {
					t.Errorf("create %s-%d: %d %v", prefix, i, code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// A customer created while thousands of a sync run's tasks wait in the bulk
// queue is synced long before that backlog drains: live syncs take the
// critical queue, which a free worker slot serves first.
func TestLiveSyncFirstUnderBulkLoad(t *testing.T) {
	const backlog = 1500
	emu := stripeemu.New()
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	s := startServer(t, merge(baseEnv(t), backends[0].env(t), map[string]string{
		"PAYSYNC_CONFIG":      stripeConnection(t, hs.URL, "sk_test_priority"),
		"PAYSYNC_CONCURRENCY": "4",
		// Every item of the run queued at once: the backlog is the point.
		"PAYSYNC_BULK_WINDOW": fmt.Sprint(backlog),
	}))
	createCustomers(t, s, "bulk", backlog, map[string]any{"sync_with_provider": false})
	emu.Faults.Set(fault.Settings{Latency: 10 * time.Millisecond})

	code, body := s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{
		"mode": "link_missing", "filter": map[string]any{"provider": "stripe", "connection_code": "stripe_test"}}})
	if code != 200 {
		t.Fatalf("start run: %d %v", code, body)
	}
	id := body["sync_run"].(map[string]any)["id"].(string)
	var run map[string]any
	eventually(t, 60*time.Second, "the run's backlog to be queued", func() bool {
		_, body := s.do(t, "GET", "/api/v1/sync_runs/"+id, nil)
		run = body["sync_run"].(map[string]any)
		return run["in_flight"].(float64) >= backlog/2
	})

	created := time.Now()
	code, body = s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
		"external_id": "live", "name": "Live", "billing_configuration": map[string]any{
			"payment_provider": "stripe", "sync_with_provider": true, "sync": false}}})
	if code != 200 {
		t.Fatalf("create live customer: %d %v", code, body)
	}
	var lag time.Duration
	for lag == 0 {
		_, body := s.do(t, "GET", "/api/v1/customers/live", nil)
		if billing(t, body)["provider_sync_status"] == "synced" {
			lag = time.Since(created)
		} else if time.Since(created) > 60*time.Second {
			t.Fatalf("the live customer was not synced within a minute: %v", billing(t, body))
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, body = s.do(t, "GET", "/api/v1/sync_runs/"+id, nil)
	left := body["sync_run"].(map[string]any)["in_flight"].(float64)
	run = s.waitRun(t, id, "done", 5*time.Minute)
	drain := time.Since(created)
	t.Logf("live sync lag %s; %v bulk items still in flight then; the run's backlog drained %s after the create", lag, left, drain)
	if run["synced"] != float64(backlog) {
		t.Fatalf("run: %v", run)
	}
	if lag > drain/5 {
		t.Fatalf("the live customer waited %s, over a fifth of the %s the bulk backlog took to drain", lag, drain)
	}
}

// Two worker processes share one connection's rate limit through Redis:
// against an emulator that answers 429 beyond the limit, none is met.
func TestRateLimitSharedByTwoWorkerProcesses(t *testing.T) {
	const (
		customers = 300
		limit     = 40
	)
	emu := stripeemu.New()
	emu.Faults.Set(fault.Settings{RateCap: limit})
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	env := merge(baseEnv(t), backends[0].env(t), map[string]string{
		"PAYSYNC_CONFIG": writeConfig(t, fmt.Sprintf(`
organizations:
  - name: default
    connections:
      - provider: stripe
        code: stripe_test
        credentials: {secret_key: "sk_test_shared"}
        base_url: %q
        rate_limit: %d
`, hs.URL, limit)),
	})
	s := startServer(t, env, "serve", "--role=api")
	bin := binary(t)
	for range 2 {
		testenv.StartProcess(t, "", envList(merge(env, map[string]string{"PAYSYNC_ADDR": "127.0.0.1:0", "PAYSYNC_METRICS_ADDR": "127.0.0.1:0"})), bin, "serve", "--role=worker")
	}
	createCustomers(t, s, "shared", customers, map[string]any{"payment_provider": "stripe", "sync_with_provider": true, "sync": false})
	eventually(t, 2*time.Minute, "every customer to be created at the emulator", func() bool { return emu.CustomerCount() >= customers })
	for i := range customers {
		s.waitStatus(t, fmt.Sprintf("shared-%d", i), "synced", 30*time.Second)
	}
	t.Logf("%d provider requests, %d answered 429", emu.Faults.Requests(), emu.Faults.RateLimited())
	if n := emu.Faults.RateLimited(); n != 0 {
		t.Fatalf("the emulator answered %d requests with 429: the two workers went over the shared limit", n)
	}
	if n := emu.CustomerCount(); n != customers {
		t.Fatalf("stripe has %d customers, want %d", n, customers)
	}
}
