package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/paysync/paysync/api"
)

func TestHealthz(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.do("GET", "/healthz", "", nil)
	wantStatus(t, r, http.StatusOK)
	jsonEqual(t, r.body, `{"status":"ok"}`)
}

func TestReadyz(t *testing.T) {
	var mu sync.Mutex
	var down error
	h := newHarness(t, sqliteDSN(t), func(d *api.Deps) {
		d.Ready = func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return down
		}
	})
	r := h.do("GET", "/readyz", "", nil)
	wantStatus(t, r, http.StatusOK)
	jsonEqual(t, r.body, `{"status":"ok"}`)

	mu.Lock()
	down = errors.New("redis: connection refused")
	mu.Unlock()
	r = h.do("GET", "/readyz", "", nil)
	wantStatus(t, r, http.StatusServiceUnavailable)
	jsonEqual(t, r.body, `{"status":"unavailable","error":"redis: connection refused"}`)
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	tests := []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"wrong key", "Bearer 00000000-0000-0000-0000-000000000000"},
		{"no scheme", h.key},
		{"another scheme", "Token " + h.key},
		{"empty bearer", "Bearer "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", h.url+"/api/v1/customers", strings.NewReader(`{"customer":{"external_id":"c1"}}`))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
			}
			jsonEqual(t, body, `{"status":401,"error":"Unauthorized"}`)
		})
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by unauthenticated requests", n)
	}
	// The same request with the key goes through, also as "bearer".
	req, _ := http.NewRequest("POST", h.url+"/api/v1/customers", strings.NewReader(`{"customer":{"external_id":"c1"}}`))
	req.Header.Set("Authorization", "bearer "+h.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d with the key, want 200", resp.StatusCode)
	}
}

func TestMonitoringNeedsKey(t *testing.T) {
	var mu sync.Mutex
	var reached []string
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.URL.Path)
		mu.Unlock()
		io.WriteString(w, "dashboard")
	})
	h := newHarness(t, sqliteDSN(t), func(d *api.Deps) { d.Monitoring = stub })

	get := func(set func(*http.Request)) (*http.Response, string) {
		req, _ := http.NewRequest("GET", h.url+"/monitoring/api/queues", nil)
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, _ := get(func(*http.Request) {})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials: status %d, want 401", resp.StatusCode)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="paysync"` {
		t.Fatalf("WWW-Authenticate = %q", got)
	}
	resp, _ = get(func(r *http.Request) { r.SetBasicAuth("admin", "not-a-key") })
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", resp.StatusCode)
	}
	mu.Lock()
	if len(reached) != 0 {
		t.Fatalf("the dashboard was reached without a key: %v", reached)
	}
	mu.Unlock()

	resp, body := get(func(r *http.Request) { r.SetBasicAuth("anyone", h.key) })
	if resp.StatusCode != http.StatusOK || body != "dashboard" {
		t.Fatalf("basic auth with the key: status %d body %q", resp.StatusCode, body)
	}
	resp, body = get(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+h.key) })
	if resp.StatusCode != http.StatusOK || body != "dashboard" {
		t.Fatalf("bearer key: status %d body %q", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reached) != 2 || reached[0] != "/monitoring/api/queues" {
		t.Fatalf("dashboard saw %v, want the full path twice", reached)
	}
}

func TestSandboxMounted(t *testing.T) {
	var got string
	emu := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		io.WriteString(w, `{"object":"list"}`)
	})
	h := newHarness(t, sqliteDSN(t), func(d *api.Deps) { d.Sandbox = map[string]http.Handler{"stripe": emu} })
	r := h.do("GET", "/sandbox/stripe/v1/customers", "", nil)
	wantStatus(t, r, http.StatusOK)
	if got != "/v1/customers" {
		t.Fatalf("emulator saw path %q, want the prefix stripped", got)
	}
	if r := h.do("GET", "/sandbox/adyen/v71/paymentLinks", "", nil); r.status != http.StatusNotFound {
		t.Fatalf("unconfigured sandbox: status %d, want 404", r.status)
	}
}

func TestUnknownLagoRoute(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.get("/api/v1/invoices")
	wantStatus(t, r, http.StatusNotFound)
	jsonEqual(t, r.body, `{"status":404,"error":"Not Found","code":"route_not_found"}`)
}

// The request log names the route and the outcome, never the body, the
// key, or the external id in the path.
func TestRequestLogHasNoPersonalData(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.post(`{"customer":{"external_id":"ext-secret-42","email":"dinesh@piedpiper.test","name":"Dinesh Chugtai"}}`)
	wantStatus(t, r, http.StatusOK)
	h.get("/api/v1/customers/ext-secret-42")
	id := r.header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id on the response")
	}
	logs := h.logs.String()
	for _, want := range []string{`"route":"POST /api/v1/customers"`, `"route":"GET /api/v1/customers/{external_id}"`, `"status":200`, `"request_id":"` + id + `"`, `"method":"POST"`, `"duration"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	for _, secret := range []string{"dinesh", "piedpiper", "Chugtai", "ext-secret-42", h.key, api.HashKey(h.key)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}

func TestRequestIDKeptWhenSane(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	req, _ := http.NewRequest("GET", h.url+"/healthz", nil)
	req.Header.Set("X-Request-Id", "trace-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "trace-123" {
		t.Fatalf("X-Request-Id = %q, want the caller's", got)
	}
	req.Header.Set("X-Request-Id", "bad id\twith spaces")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("X-Request-Id = %q, want a fresh one", got)
	}
}
