package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
)

// The README's promise: with embedded defaults the seed-001 customer gets a
// Stripe customer id from the sandbox, inline and in the background.
func TestSeedCustomerSyncsInBothModes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, merge(baseEnv(t), b.env(t)))

		code, body := s.do(t, "POST", "/api/v1/customers", seedCustomer("seed-inline", true))
		if code != 200 {
			t.Fatalf("inline create: %d %v", code, body)
		}
		bc := billing(t, body)
		if bc["provider_sync_status"] != "synced" || !strings.HasPrefix(fmt.Sprint(bc["provider_customer_id"]), "cus_") {
			t.Fatalf("inline create should answer synced with a cus_ id: %v", bc)
		}
		if bc["has_payment_method"] != false {
			t.Errorf("a new Stripe customer has no payment method: %v", bc["has_payment_method"])
		}

		code, body = s.do(t, "POST", "/api/v1/customers", seedCustomer("seed-background", false))
		if code != 200 {
			t.Fatalf("background create: %d %v", code, body)
		}
		if st := billing(t, body)["provider_sync_status"]; st != "pending" {
			t.Errorf("background create answers pending, got %v", st)
		}
		got := s.waitStatus(t, "seed-background", "synced", 30*time.Second)
		id := fmt.Sprint(billing(t, got)["provider_customer_id"])
		if !strings.HasPrefix(id, "cus_") || id == fmt.Sprint(bc["provider_customer_id"]) {
			t.Errorf("background sync id %q", id)
		}

		// The customer exists at the (sandbox) provider with the fields sent.
		code, cus := doJSON(t, "GET", s.URL+"/sandbox/stripe/v1/customers/"+id, "Bearer sk_test_sandbox", nil)
		if code != 200 || cus["email"] != "dinesh@piedpiper.test" || cus["name"] != "Gavin Belson" {
			t.Errorf("stripe customer: %d %v", code, cus)
		}
		if md, _ := cus["metadata"].(map[string]any); md["paysync_external_id"] != "seed-background" {
			t.Errorf("stripe metadata: %v", cus["metadata"])
		}
	})
}

// An upsert with the same body is idempotent: one customer, one provider customer.
func TestUpsertTwiceKeepsOneProviderCustomer(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[1].env(t)))
	_, first := s.do(t, "POST", "/api/v1/customers", seedCustomer("twice", true))
	_, second := s.do(t, "POST", "/api/v1/customers", seedCustomer("twice", true))
	c1, c2 := first["customer"].(map[string]any), second["customer"].(map[string]any)
	if c1["lago_id"] != c2["lago_id"] || billing(t, first)["provider_customer_id"] != billing(t, second)["provider_customer_id"] {
		t.Fatalf("second upsert changed identity: %v vs %v", c1, c2)
	}
	_, list := doJSON(t, "GET", s.URL+"/sandbox/stripe/v1/customers?limit=100", "Bearer sk_test_sandbox", nil)
	if n := len(list["data"].([]any)); n != 1 {
		t.Errorf("stripe has %d customers, want 1", n)
	}
}

// provider_customer_id links an existing provider customer and reads its
// payment methods; an id the provider does not know fails for good.
func TestLinkExistingProviderCustomer(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[1].env(t)))
	existing := createSandboxStripeCustomer(t, s)
	attach(t, s, existing)

	body := seedCustomer("linked", true)
	bc := body["customer"].(map[string]any)["billing_configuration"].(map[string]any)
	bc["provider_customer_id"] = existing
	code, resp := s.do(t, "POST", "/api/v1/customers", body)
	if code != 200 {
		t.Fatalf("link: %d %v", code, resp)
	}
	got := billing(t, resp)
	if got["provider_sync_status"] != "synced" || got["provider_customer_id"] != existing || got["has_payment_method"] != true {
		t.Fatalf("linked customer: %v", got)
	}

	bc["provider_customer_id"] = "cus_doesnotexist"
	body["customer"].(map[string]any)["external_id"] = "linked-unknown"
	code, resp = s.do(t, "POST", "/api/v1/customers", body)
	if code != 200 {
		t.Fatalf("link unknown: %d %v", code, resp)
	}
	if st := billing(t, resp)["provider_sync_status"]; st != "failed" {
		t.Fatalf("unknown provider customer: status %v", st)
	}
	details, _ := resp["customer"].(map[string]any)["error_details"].([]any)
	if len(details) == 0 || !strings.Contains(fmt.Sprint(details), "customer_not_found") {
		t.Errorf("error_details should carry the provider error: %v", details)
	}
}

// A provider that answers 503 twice and then 429 with Retry-After is
// retried until the customer is synced.
func TestRetryableFailuresThenSynced(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, merge(baseEnv(t), b.env(t)))
		setFaults(t, s, `{"fail_next": 2, "fail": "server_error", "status": 503}`)
		s.do(t, "POST", "/api/v1/customers", seedCustomer("flaky", false))
		s.waitStatus(t, "flaky", "synced", 30*time.Second)

		setFaults(t, s, `{"fail_next": 1, "fail": "rate_limited", "retry_after": "1s"}`)
		start := time.Now()
		code, resp := s.do(t, "POST", "/api/v1/customers", seedCustomer("limited", true))
		if code != 200 {
			t.Fatalf("create: %d %v", code, resp)
		}
		// Inline sync met a 429: the answer is pending and the job takes over.
		if st := billing(t, resp)["provider_sync_status"]; st != "pending" {
			t.Errorf("inline sync after a 429 answers pending, got %v", st)
		}
		s.waitStatus(t, "limited", "synced", 30*time.Second)
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("synced after %s: the 1s Retry-After was not honoured", waited)
		}
	})
}

// A permanent failure is stored on the customer, not retried, and its task
// is archived where asynqmon shows it.
func TestPermanentFailureStopsRetrying(t *testing.T) {
	env := merge(baseEnv(t), backends[0].env(t))
	s := startServer(t, env)
	body := seedCustomer("permanent", false)
	body["customer"].(map[string]any)["billing_configuration"].(map[string]any)["provider_customer_id"] = "cus_missing"
	s.do(t, "POST", "/api/v1/customers", body)
	got := s.waitStatus(t, "permanent", "failed", 30*time.Second)
	if !strings.Contains(fmt.Sprint(got["customer"].(map[string]any)["error_details"]), "customer_not_found") {
		t.Errorf("error not stored: %v", got)
	}
	archived := archivedTasks(t, env)
	if len(archived) != 1 || !strings.Contains(archived[0].LastErr, "customer_not_found") {
		t.Fatalf("archived tasks: %+v", archived)
	}
	if archived[0].Retried != 0 {
		t.Errorf("a permanent failure was retried %d times", archived[0].Retried)
	}
}

// The monitoring dashboard sits behind the API keys.
func TestMonitoringNeedsAKey(t *testing.T) {
	other := "other-org-key-0123456789"
	s := startServer(t, merge(baseEnv(t), backends[1].env(t), map[string]string{
		"PAYSYNC_CONFIG": writeConfig(t, "organizations: [{name: other, api_keys: ["+other+"]}]"),
	}))
	resp, err := http.Get(s.URL + "/monitoring/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no credentials: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", s.URL+"/monitoring/api/queues", nil)
	req.SetBasicAuth("admin", s.Key)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("basic auth with the key: %d", resp.StatusCode)
	}
	// The dashboard controls every organization's queues: another
	// organization's key is refused.
	req.SetBasicAuth("admin", other)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("another organization's key: %d, want 403", resp.StatusCode)
	}
	if code, _ := doJSON(t, "GET", s.URL+"/api/v1/customers", "Bearer "+other, nil); code != 200 {
		t.Errorf("the other organization's key must still work on its API: %d", code)
	}
	code, _ := doJSON(t, "GET", s.URL+"/readyz", "", nil)
	if code != 200 {
		t.Errorf("readyz: %d", code)
	}
}

// Without PAYSYNC_API_KEY the first start prints a key once; a restart
// prints none and the key still works.
func TestGeneratedKeyIsPrintedOnce(t *testing.T) {
	env := merge(baseEnv(t), backends[1].env(t))
	delete(env, "PAYSYNC_API_KEY")
	s := startServer(t, env)
	out := s.stdout.String()
	i := strings.Index(out, "ps_")
	if i < 0 {
		t.Fatalf("no key printed: %q", out)
	}
	key := strings.Fields(out[i:])[0]
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, env)
	if strings.Contains(s2.stdout.String(), "ps_") {
		t.Errorf("a restart printed a new key: %q", s2.stdout.String())
	}
	code, _ := doJSON(t, "GET", s2.URL+"/api/v1/customers", "Bearer "+key, nil)
	if code != 200 {
		t.Errorf("generated key after restart: %d", code)
	}
}

// Invariant 1 in embedded mode: a restart loses the in-process queue, and
// the reconciler brings every pending link to synced from the database.
func TestEmbeddedRestartLosesNothing(t *testing.T) {
	env := merge(baseEnv(t), backends[1].env(t))
	env["PAYSYNC_RETRY_BASE"] = "1h" // park the task in the retry set, where the restart loses it
	env["PAYSYNC_RETRY_MAX"] = "1h"
	s := startServer(t, env)
	setFaults(t, s, `{"fail_next": 1000, "fail": "server_error", "status": 500}`)
	s.do(t, "POST", "/api/v1/customers", seedCustomer("restart", false))
	eventually(t, 10*time.Second, "a failed attempt", func() bool {
		_, body := s.do(t, "GET", "/api/v1/customers/restart", nil)
		return len(body["customer"].(map[string]any)["error_details"].([]any)) > 0
	})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	env["PAYSYNC_RETRY_BASE"], env["PAYSYNC_RETRY_MAX"] = "100ms", "500ms"
	s2 := startServer(t, env) // a new emulator without faults, a new empty Redis
	s2.waitStatus(t, "restart", "synced", 30*time.Second)
}

func createSandboxStripeCustomer(t *testing.T, s *server) string {
	t.Helper()
	form := url.Values{"email": {"existing@example.test"}}
	code, body := postForm(t, s.URL+"/sandbox/stripe/v1/customers", form)
	if code != 200 {
		t.Fatalf("create stripe customer: %d %v", code, body)
	}
	return body["id"].(string)
}

func attach(t *testing.T, s *server, customerID string) {
	t.Helper()
	code, body := postForm(t, s.URL+"/sandbox/stripe/_sandbox/customers/"+customerID+"/payment_methods", nil)
	if code != 200 && code != 201 {
		t.Fatalf("attach payment method: %d %v", code, body)
	}
}

func postForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	return doJSONForm(t, u, form)
}

func setFaults(t *testing.T, s *server, plan string) {
	t.Helper()
	code, body := doJSON(t, "PUT", s.URL+"/sandbox/stripe/_faults", "", plan)
	if code != 200 {
		t.Fatalf("set faults: %d %v", code, body)
	}
}

// Split roles cannot share what lives inside one process.
func TestSplitRolesNeedSharedParts(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": testenv.RedisURL()}, "PAYSYNC_CONFIG"},
	} {
		err := run(context.Background(), []string{"serve", "--role=worker"}, func(k string) string { return tc.env[k] }, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}

// A revoked key stops working; a key made with `apikey create` works.
func TestAPIKeyCreateAndRevoke(t *testing.T) {
	env := merge(baseEnv(t), backends[1].env(t))
	getenv := func(k string) string { return env[k] }
	var out strings.Builder
	if err := run(context.Background(), []string{"apikey", "create"}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	s := startServer(t, env)
	if code, _ := doJSON(t, "GET", s.URL+"/api/v1/customers", "Bearer "+key, nil); code != 200 {
		t.Fatalf("created key: %d", code)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"apikey", "revoke"}, getenv, strings.NewReader(key+"\n"), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"apikey", "revoke"}, getenv, strings.NewReader(key), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no such API key") {
		t.Errorf("revoking twice: %v", err)
	}
	s = startServer(t, env)
	if code, _ := doJSON(t, "GET", s.URL+"/api/v1/customers", "Bearer "+key, nil); code != 401 {
		t.Errorf("revoked key: %d, want 401", code)
	}
	if code, _ := s.do(t, "GET", "/api/v1/customers", nil); code != 200 {
		t.Errorf("the configured key must keep working: %d", code)
	}
}
