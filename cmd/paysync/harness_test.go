package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
)

const testKey = "test-key-0123456789abcdef"

// backend is one of the two storage setups the suite runs on.
type backend struct {
	name string
	env  func(t *testing.T) map[string]string
}

var backends = []backend{
	{"postgres+redis", func(t *testing.T) map[string]string {
		return map[string]string{"DATABASE_URL": testenv.PostgresURL(t), "REDIS_URL": testenv.RedisURL()}
	}},
	{"sqlite+embedded-redis", func(t *testing.T) map[string]string {
		return map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "paysync.db")}
	}},
}

// eachBackend runs fn as a parallel subtest on every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

// baseEnv is what every test server gets: a random port, its own queue and
// short reconcile and retry timings.
func baseEnv(t *testing.T) map[string]string {
	return map[string]string{
		"PAYSYNC_ADDR":               fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		"PAYSYNC_METRICS_ADDR":       fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		"PAYSYNC_API_KEY":            testKey,
		"PAYSYNC_QUEUE":              testenv.RandomName("q"),
		"PAYSYNC_RECONCILE_INTERVAL": "200ms",
		"PAYSYNC_RECONCILE_AFTER":    "2s",
		"PAYSYNC_RETRY_BASE":         "100ms",
		"PAYSYNC_RETRY_MAX":          "500ms",
		"PAYSYNC_SHUTDOWN_TIMEOUT":   "3s",
		// The tests' webhook sinks are httptest servers on 127.0.0.1.
		"PAYSYNC_WEBHOOK_ALLOW_HTTP":    "true",
		"PAYSYNC_WEBHOOK_ALLOW_PRIVATE": "true",
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// server is a paysync started in-process through run(), as main does.
type server struct {
	URL    string
	Key    string
	env    map[string]string
	stdout *lockedBuffer
	stop   func() error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startServer(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	if len(args) == 0 {
		args = []string{"serve"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, nil, stdout, stderr) }()
	s := &server{URL: "http://" + env["PAYSYNC_ADDR"], Key: env["PAYSYNC_API_KEY"], env: env, stdout: stdout}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("server did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("server: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("server exited at start: %v\n%s", err, stderr.String())
		default:
		}
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become healthy: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do sends a request with the server's key and decodes a JSON answer.
func (s *server) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	return doJSON(t, method, s.URL+path, "Bearer "+s.Key, body)
}

func doJSON(t *testing.T, method, url, auth string, body any) (int, map[string]any) {
	t.Helper()
	var h map[string]string
	if auth != "" {
		h = map[string]string{"Authorization": auth}
	}
	return doJSONHeader(t, method, url, h, body)
}

// doJSONHeader sends a JSON request with the given headers and decodes a
// JSON answer.
func doJSONHeader(t *testing.T, method, url string, header map[string]string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, url, raw, err)
		}
	} else {
		out["_raw"] = string(raw)
	}
	return resp.StatusCode, out
}

// eventually polls fn until it returns true.
func eventually(t *testing.T, within time.Duration, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// billing returns the billing_configuration of a Lago customer answer.
func billing(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	c, ok := body["customer"].(map[string]any)
	if !ok {
		t.Fatalf("no customer in %v", body)
	}
	b, ok := c["billing_configuration"].(map[string]any)
	if !ok {
		t.Fatalf("no billing_configuration in %v", c)
	}
	return b
}

// seedCustomer is seed 001's request with a fresh external id. Without a
// provider_customer_id, sync_with_provider creates the customer at Stripe.
func seedCustomer(externalID string, sync bool) map[string]any {
	return map[string]any{"customer": map[string]any{
		"external_id": externalID, "address_line1": "5230 Penfield Ave", "address_line2": "",
		"city": "Woodland Hills", "country": "US", "currency": "USD", "email": "dinesh@piedpiper.test",
		"legal_name": "Coleman-Blair", "legal_number": "49-008-2965", "tax_identification_number": "EU123456789",
		"logo_url": "http://hooli.com/logo.png", "name": "Gavin Belson", "phone": "1-171-883-3711 x245",
		"state": "CA", "timezone": "Europe/Paris", "url": "http://hooli.com", "zipcode": "91364",
		"billing_configuration": map[string]any{
			"invoice_grace_period": 3, "payment_provider": "stripe", "sync": sync, "sync_with_provider": true,
			"document_locale": "fr", "provider_payment_methods": []string{"card", "sepa_debit"},
		},
		"metadata": []map[string]any{{"key": "Purchase Order", "value": "123456789", "display_in_invoice": true}},
	}}
}

// waitSynced polls the customer until its provider sync status is final.
func (s *server) waitStatus(t *testing.T, externalID, want string, within time.Duration) map[string]any {
	t.Helper()
	var last map[string]any
	eventually(t, within, externalID+" to be "+want, func() bool {
		code, body := s.do(t, "GET", "/api/v1/customers/"+externalID, nil)
		if code != 200 {
			t.Fatalf("GET customer: %d %v", code, body)
		}
		last = body
		return billing(t, body)["provider_sync_status"] == want
	})
	return last
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds paysync once for the tests that need separate processes.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paysync-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "paysync")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "paysync.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
