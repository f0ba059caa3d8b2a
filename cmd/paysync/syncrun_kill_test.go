package main

import (
	"database/sql"
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
)

// stripeCustomers counts every customer of the sandbox's Stripe emulator,
// page by page.
func stripeCustomers(t *testing.T, s *server) int {
	t.Helper()
	n, after := 0, ""
	for {
		u := s.URL + "/sandbox/stripe/v1/customers?limit=100"
		if after != "" {
			u += "&starting_after=" + after
		}
		code, page := doJSON(t, "GET", u, "Bearer sk_test_sandbox", nil)
		data, _ := page["data"].([]any)
		if code != 200 {
			t.Fatalf("list stripe customers: %d %v", code, page)
		}
		n += len(data)
		if page["has_more"] != true || len(data) == 0 {
			return n
		}
		after = data[len(data)-1].(map[string]any)["id"].(string)
	}
}

// startServeProcess starts `paysync serve` as a process of its own (its
// process group is killed at the end of the test) and waits until it
// answers; it returns its pid.
func startServeProcess(t *testing.T, env map[string]string) int {
	t.Helper()
	p := testenv.StartProcess(t, "", envList(env), binary(t), "serve")
	testenv.WaitHTTP(t, "http://"+env["PAYSYNC_ADDR"]+"/healthz", 60*time.Second)
	return p.Process.Pid
}

// killMidway waits until run id has done between 10% and 70% of its n
// customers, then kills the process group pid with SIGKILL; it returns
// how many were done.
func killMidway(t *testing.T, s *server, pid int, id string, n int) float64 {
	t.Helper()
	var done float64
	eventually(t, 60*time.Second, "the run to be between 10% and 70% done", func() bool {
		_, body := s.do(t, "GET", "/api/v1/sync_runs/"+id, nil)
		done, _ = body["sync_run"].(map[string]any)["done"].(float64)
		if done > 0.7*float64(n) {
			t.Fatalf("the run went past 70%% before the kill: %v", body)
		}
		return done >= 0.1*float64(n)
	})
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the port is free again; StartProcess's cleanup reaps it
	return done
}

// Issue 12's promise: a sync run killed mid-way (SIGKILL of the one
// embedded-mode process: API, worker, in-process Redis and emulators)
// resumes after a restart on the same SQLite file and finishes with each
// customer started exactly once: one new generation each, nothing created
// twice at the provider.
func TestSyncRunKilledMidwayResumes(t *testing.T) {
	const n = 150
	env := merge(baseEnv(t), backends[1].env(t), map[string]string{"PAYSYNC_BULK_WINDOW": "5"})
	pid := startServeProcess(t, env)
	s := &server{URL: "http://" + env["PAYSYNC_ADDR"], Key: testKey}
	for i := range n {
		code, body := s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
			"external_id": fmt.Sprintf("kill-%03d", i), "name": "Kill", "email": fmt.Sprintf("kill%d@example.test", i),
			"billing_configuration": map[string]any{"payment_provider": "stripe", "sync_with_provider": true}}})
		if code != 200 {
			t.Fatalf("create: %d %v", code, body)
		}
	}
	for i := range n {
		s.waitStatus(t, fmt.Sprintf("kill-%03d", i), "synced", 60*time.Second)
	}
	if got := stripeCustomers(t, s); got != n {
		t.Fatalf("stripe has %d customers before the run, want %d", got, n)
	}

	// Slowed down so that the run is still going when it is killed.
	if code, body := doJSON(t, "PUT", s.URL+"/sandbox/stripe/_faults", "", `{"latency":"50ms"}`); code != 200 {
		t.Fatalf("fault plan: %d %v", code, body)
	}
	// The run is started by `paysync sync-run`, which watches it through
	// the kill and the restart.
	type result struct {
		out string
		err error
	}
	cli := make(chan result, 1)
	go func() {
		out, _, err := runCLI(t, s, "sync-run", "--mode=resync", "--provider=stripe", "--interval=500ms")
		cli <- result{out, err}
	}()
	var id string
	eventually(t, 30*time.Second, "the sync-run command to start the run", func() bool {
		_, body := s.do(t, "GET", "/api/v1/sync_runs", nil)
		if runs, _ := body["sync_runs"].([]any); len(runs) == 1 {
			id = runs[0].(map[string]any)["id"].(string)
		}
		return id != ""
	})
	doneAtKill := killMidway(t, s, pid, id, n)

	startServeProcess(t, env)
	run := s.waitRun(t, id, "done", 3*time.Minute)
	if run["total"] != float64(n) || run["done"] != float64(n) || run["synced"] != float64(n) || run["failed"] != float64(0) {
		t.Fatalf("the run after the restart (killed at %v done): %v", doneAtKill, run)
	}
	select {
	case r := <-cli:
		want := map[string]string{"total": "150", "done": "150", "synced": "150", "failed": "0", "skipped": "0"}
		if got := summaryRow(t, r.out, "total"); r.err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sync-run through the restart: %v %v\n%s", r.err, got, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Error("sync-run did not finish with its run")
	}
	if got := stripeCustomers(t, s); got != n {
		t.Errorf("stripe has %d customers after the run, want %d: the run created some twice", got, n)
	}

	// One new generation per customer: none was started twice.
	db, err := sql.Open("sqlite", env["DATABASE_URL"]+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT c.external_id, l.generation, l.state FROM provider_links l JOIN customers c ON c.id = l.customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var ext, state string
		var gen int
		if err := rows.Scan(&ext, &gen, &state); err != nil {
			t.Fatal(err)
		}
		seen++
		if gen != 2 || state != "synced" {
			t.Errorf("%s: generation %d, %s; want generation 2, synced", ext, gen, state)
		}
	}
	if err := rows.Err(); err != nil || seen != n {
		t.Fatalf("%d links (%v), want %d", seen, err, n)
	}
	t.Logf("killed at %v/%d done; resumed and finished", doneAtKill, n)
}

// The same for an import: killed mid-way through 150 Stripe customers
// that match paysync's by the external id in their metadata, it finishes
// after the restart with each one linked once (generation 1) and nothing
// created at Stripe.
func TestImportKilledMidwayResumes(t *testing.T) {
	const n = 150
	env := merge(baseEnv(t), backends[1].env(t), map[string]string{"PAYSYNC_BULK_WINDOW": "5"})
	pid := startServeProcess(t, env)
	s := &server{URL: "http://" + env["PAYSYNC_ADDR"], Key: testKey}
	stripeIDs := map[string]string{}
	for i := range n {
		ext := fmt.Sprintf("imp-%03d", i)
		code, body := s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
			"external_id": ext, "name": "Imported", "billing_configuration": map[string]any{"sync_with_provider": false}}})
		if code != 200 {
			t.Fatalf("create: %d %v", code, body)
		}
		code, body = postForm(t, s.URL+"/sandbox/stripe/v1/customers", url.Values{"metadata[customer_id]": {ext}})
		if code != 200 {
			t.Fatalf("seed: %d %v", code, body)
		}
		stripeIDs[ext] = body["id"].(string)
	}

	if code, body := doJSON(t, "PUT", s.URL+"/sandbox/stripe/_faults", "", `{"latency":"50ms"}`); code != 200 {
		t.Fatalf("fault plan: %d %v", code, body)
	}
	code, body := s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{
		"mode": "import", "filter": map[string]any{"connection_code": "stripe"}}})
	if code != 200 {
		t.Fatalf("start import: %d %v", code, body)
	}
	id := body["sync_run"].(map[string]any)["id"].(string)
	doneAtKill := killMidway(t, s, pid, id, n)

	startServeProcess(t, env)
	run := s.waitRun(t, id, "done", 3*time.Minute)
	if run["total"] != float64(n) || run["done"] != float64(n) || run["synced"] != float64(n) ||
		fmt.Sprint(run["summary"]) != fmt.Sprintf("map[linked:%d]", n) {
		t.Fatalf("the import after the restart (killed at %v done): %v", doneAtKill, run)
	}
	if got := stripeCustomers(t, s); got != n {
		t.Errorf("stripe has %d customers after the import, want %d", got, n)
	}
	db, err := sql.Open("sqlite", env["DATABASE_URL"]+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT c.external_id, l.provider_customer_id, l.generation, l.state FROM provider_links l
		JOIN customers c ON c.id = l.customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var ext, pcID, state string
		var gen int
		if err := rows.Scan(&ext, &pcID, &gen, &state); err != nil {
			t.Fatal(err)
		}
		seen++
		if gen != 1 || state != "synced" || pcID != stripeIDs[ext] {
			t.Errorf("%s: %s generation %d, %s; want %s, generation 1, synced", ext, pcID, gen, state, stripeIDs[ext])
		}
	}
	if err := rows.Err(); err != nil || seen != n {
		t.Fatalf("%d links (%v), want %d", seen, err, n)
	}
	t.Logf("killed at %v/%d done; resumed and finished", doneAtKill, n)
}
