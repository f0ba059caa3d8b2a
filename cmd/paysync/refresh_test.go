package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/sandbox/stripeemu"
)

// Each provider, through the whole service: retryable failures are retried
// until synced, a 429 is waited out, and a permanent refusal is stored on
// the customer without a retry.
func TestProviderFailuresEndToEnd(t *testing.T) {
	env := merge(baseEnv(t), backends[0].env(t))
	s := startServer(t, env)
	for _, p := range sandboxProviders {
		t.Run(p.name, func(t *testing.T) {
			faults := "/sandbox/" + p.name + "/_faults"
			setPlan := func(plan string) {
				if code, body := doJSON(t, "PUT", s.URL+faults, "", plan); code != 200 {
					t.Fatalf("faults: %d %v", code, body)
				}
			}
			setPlan(`{"fail_next": 2, "fail": "server_error", "status": 503}`)
			s.do(t, "POST", "/api/v1/customers", customerFor(p.name, p.name+"-flaky", false))
			s.waitStatus(t, p.name+"-flaky", "synced", 30*time.Second)

			setPlan(`{"fail_next": 1, "fail": "rate_limited", "retry_after": "1s"}`)
			start := time.Now()
			_, body := s.do(t, "POST", "/api/v1/customers", customerFor(p.name, p.name+"-limited", true))
			if st := billing(t, body)["provider_sync_status"]; st != "pending" {
				t.Errorf("inline sync after a 429 answers pending, got %v", st)
			}
			s.waitStatus(t, p.name+"-limited", "synced", 30*time.Second)
			if waited := time.Since(start); waited < time.Second {
				t.Errorf("synced after %s: the provider's 1s rate-limit header was not waited out", waited)
			}

			setPlan(`{"fail_next": 1, "fail": "server_error", "status": 401}`)
			s.do(t, "POST", "/api/v1/customers", customerFor(p.name, p.name+"-denied", false))
			got := s.waitStatus(t, p.name+"-denied", "failed", 30*time.Second)
			details := fmt.Sprint(got["customer"].(map[string]any)["error_details"])
			if !strings.Contains(details, "payment_provider_error") {
				t.Errorf("the refusal is not on the customer: %v", details)
			}
		})
	}
	for _, task := range archivedTasks(t, env) {
		if task.Type == "customer:sync" && task.Retried != 0 {
			t.Errorf("a permanent failure was retried %d times: %s", task.Retried, task.LastErr)
		}
	}
}

// A provider that sends no "payment method added" event (Braintree) still
// converges: customers without a payment method are re-read on a schedule.
// Setup links are generated on creation when the connection asks for it.
func TestScheduledRefreshAndSetupLinkOnCreate(t *testing.T) {
	emu := stripeemu.New() // sends no webhooks: only the schedule can notice
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	sink := newSink(t)
	config := writeConfig(t, fmt.Sprintf(`
organizations:
  - name: default
    webhook_urls: [%q]
    webhook_hmac_key: configured-hmac-key
    connections:
      - provider: stripe
        code: quiet
        credentials: {secret_key: sk_test_quiet}
        base_url: %q
        setup_link_on_create: true
        return_url: https://app.example.test/done
`, sink.srv.URL, hs.URL))
	s := startServer(t, merge(baseEnv(t), backends[1].env(t), map[string]string{
		"PAYSYNC_CONFIG": config, "PAYSYNC_REFRESH_INTERVAL": "1s", "PAYSYNC_RECONCILE_INTERVAL": "200ms",
	}))
	_, body := s.do(t, "POST", "/api/v1/customers", customerFor("stripe", "scheduled", true))
	id := fmt.Sprint(billing(t, body)["provider_customer_id"])

	var links []delivered
	eventually(t, 15*time.Second, "customer.checkout_url_generated", func() bool {
		links = sink.of("customer.checkout_url_generated", "scheduled")
		return len(links) == 1
	})
	if !lagoVerify("configured-hmac-key", links[0]) {
		t.Error("the configured HMAC key does not verify the delivery")
	}
	obj := links[0].msg["payment_provider_customer_checkout_url"].(map[string]any)
	if !strings.HasPrefix(fmt.Sprint(obj["checkout_url"]), hs.URL+"/checkout/") || obj["payment_provider_code"] != "quiet" {
		t.Errorf("checkout_url webhook: %v", obj)
	}

	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	s.waitHasPaymentMethod(t, "scheduled", true)
}
