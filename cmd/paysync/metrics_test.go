package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// sample is one line of a Prometheus text scrape.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrape GETs url (a /metrics) and parses its samples; every non-comment
// line must parse, so that a malformed exposition fails the test.
func scrape(t *testing.T, url string) []sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %d %s", url, resp.StatusCode, raw)
	}
	var out []sample
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsable metrics line %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[p[1]] = p[2]
		}
		out = append(out, s)
	}
	return out
}

// find sums the samples of name whose labels include want.
func find(samples []sample, name string, want map[string]string) (sum float64, n int) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && s.labels[k] == v
		}
		if ok {
			sum += s.value
			n++
		}
	}
	return sum, n
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// Issue 10 item 1: after a customer is created and synced through the
// queue, the metrics listener (never the API port) exports the HTTP,
// sync, provider call and queue families, and no label value carries the
// customer's ids, email or the API key.
func TestMetricsScrapeAfterSync(t *testing.T) {
	env := merge(baseEnv(t), backends[0].env(t))
	s := startServer(t, env)
	tag := testenv.RandomName("")
	externalID, email := "metrics-ext-"+tag, "metrics-"+tag+"@leak.test"
	body := seedCustomer(externalID, false) // background: through the critical queue
	body["customer"].(map[string]any)["email"] = email
	if code, resp := s.do(t, "POST", "/api/v1/customers", body); code != 200 {
		t.Fatalf("create: %d %v", code, resp)
	}
	got := s.waitStatus(t, externalID, "synced", 60*time.Second)
	customerID := fmt.Sprint(got["customer"].(map[string]any)["lago_id"])
	providerID := fmt.Sprint(billing(t, got)["provider_customer_id"])
	if customerID == "" || !strings.HasPrefix(providerID, "cus_") {
		t.Fatalf("customer ids: %q %q", customerID, providerID)
	}

	metricsURL := "http://" + env["PAYSYNC_METRICS_ADDR"]
	samples := scrape(t, metricsURL+"/metrics")
	queue := env["PAYSYNC_QUEUE"] + ":critical"
	for _, c := range []struct {
		name string
		want map[string]string
	}{
		{"paysync_http_requests_total", map[string]string{"route": "POST /api/v1/customers", "method": "POST", "status": "200"}},
		{"paysync_http_requests_total", map[string]string{"route": "GET /api/v1/customers/{external_id}", "status": "200"}},
		{"paysync_http_request_duration_seconds_count", map[string]string{"route": "POST /api/v1/customers"}},
		{"paysync_sync_outcomes_total", map[string]string{"provider": "stripe", "result": "synced"}},
		{"paysync_provider_call_duration_seconds_count", map[string]string{"provider": "stripe", "operation": "create_customer", "outcome": "ok"}},
		{"paysync_queue_tasks", map[string]string{"queue": queue, "state": "completed"}},
		{"paysync_queue_latency_seconds", map[string]string{"queue": queue}},
		{"paysync_queue_processed_today", map[string]string{"queue": queue, "result": "processed"}},
	} {
		sum, n := find(samples, c.name, c.want)
		if n == 0 {
			t.Errorf("no %s sample with %v", c.name, c.want)
			continue
		}
		// Counters and the queue's completed and processed counts saw at
		// least this test's request and sync; the latency may be 0.
		if c.name != "paysync_queue_latency_seconds" && sum < 1 {
			t.Errorf("%s %v = %v, want at least 1", c.name, c.want, sum)
		}
	}
	secrets := []string{customerID, externalID, email, providerID, s.Key, tag}
	for _, smp := range samples {
		for k, v := range smp.labels {
			for _, secret := range secrets {
				if strings.Contains(v, secret) {
					t.Errorf("%s label %s=%q contains %q", smp.name, k, v, secret)
				}
			}
		}
	}

	// Probes on the metrics listener; nothing of it on the public port.
	if code, _ := get(t, metricsURL+"/healthz"); code != 200 {
		t.Errorf("metrics listener /healthz: %d", code)
	}
	if code, body := get(t, metricsURL+"/readyz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("metrics listener /readyz: %d %s", code, body)
	}
	if code, _ := get(t, s.URL+"/metrics"); code != 404 {
		t.Errorf("public port /metrics: %d, want 404", code)
	}
	if code, _ := get(t, metricsURL+"/api/v1/customers"); code != 404 {
		t.Errorf("metrics listener serves the API: %d, want 404", code)
	}
}

// The worker role opens no API port, yet answers /healthz, /readyz and
// /metrics on PAYSYNC_METRICS_ADDR; its metrics are its own work (the
// sync it ran), not the API process's.
func TestWorkerServesHealthAndMetrics(t *testing.T) {
	emu := stripeemu.New()
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	env := merge(baseEnv(t), backends[0].env(t), map[string]string{
		"PAYSYNC_CONFIG": stripeConnection(t, hs.URL, "sk_test_metrics"),
	})
	api := startServer(t, env, "serve", "--role=api")

	workerAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	workerEnv := merge(env, map[string]string{
		"PAYSYNC_ADDR":         workerAddr, // must stay closed: a worker has no API
		"PAYSYNC_METRICS_ADDR": fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	})
	testenv.StartProcess(t, "", envList(workerEnv), binary(t), "serve", "--role=worker")
	metricsURL := "http://" + workerEnv["PAYSYNC_METRICS_ADDR"]
	testenv.WaitHTTP(t, metricsURL+"/healthz", 60*time.Second)

	if code, body := get(t, metricsURL+"/readyz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("worker /readyz: %d %s", code, body)
	}
	if conn, err := net.DialTimeout("tcp", workerAddr, time.Second); err == nil {
		conn.Close()
		t.Errorf("the worker listens on PAYSYNC_ADDR %s", workerAddr)
	}

	externalID := "worker-metrics-" + testenv.RandomName("")
	if code, resp := api.do(t, "POST", "/api/v1/customers", seedCustomer(externalID, false)); code != 200 {
		t.Fatalf("create: %d %v", code, resp)
	}
	api.waitStatus(t, externalID, "synced", 60*time.Second)
	samples := scrape(t, metricsURL+"/metrics")
	for _, c := range []struct {
		name string
		want map[string]string
	}{
		{"paysync_sync_outcomes_total", map[string]string{"provider": "stripe", "result": "synced"}},
		{"paysync_provider_call_duration_seconds_count", map[string]string{"provider": "stripe", "operation": "create_customer", "outcome": "ok"}},
		{"paysync_queue_tasks", map[string]string{"queue": env["PAYSYNC_QUEUE"] + ":critical", "state": "completed"}},
	} {
		if sum, _ := find(samples, c.name, c.want); sum < 1 {
			t.Errorf("worker: %s %v = %v, want at least 1", c.name, c.want, sum)
		}
	}
	// The worker served no HTTP API request.
	if _, n := find(samples, "paysync_http_requests_total", nil); n != 0 {
		t.Errorf("the worker counts %d HTTP API series", n)
	}
}
