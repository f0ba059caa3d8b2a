package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// postWebhook sends a raw provider webhook to paysync.
func postWebhook(t *testing.T, s *server, path, contentType, body string, header map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Forged and stale provider webhooks are refused with each provider's own
// answer, and nothing is stored or refreshed.
func TestForgedProviderWebhooksAreRejected(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[1].env(t), map[string]string{"PAYSYNC_REFRESH_INTERVAL": "1h"}))
	_, body := s.do(t, "POST", "/api/v1/customers", customerFor("stripe", "forged", true))
	id := fmt.Sprint(billing(t, body)["provider_customer_id"])
	event := fmt.Sprintf(`{"id":"evt_forged","object":"event","type":"payment_method.attached","created":%d,"data":{"object":{"id":"pm_x","object":"payment_method","customer":%q}}}`, time.Now().Unix(), id)

	cases := []struct {
		name, path, ctype, body string
		header                  map[string]string
		want                    int
	}{
		{"stripe forged", "/webhooks/sandbox/stripe", "application/json", event,
			map[string]string{"Stripe-Signature": stripeemu.SignatureHeader([]byte(event), "whsec_not_the_secret", time.Now())}, 400},
		{"stripe stale", "/webhooks/sandbox/stripe", "application/json", event,
			map[string]string{"Stripe-Signature": stripeemu.SignatureHeader([]byte(event), stripeemu.SandboxWebhookSecret, time.Now().Add(-10*time.Minute))}, 400},
		{"stripe unsigned", "/webhooks/sandbox/stripe", "application/json", event, nil, 400},
		{"adyen forged", "/webhooks/sandbox/adyen", "application/json",
			`{"live":"false","notificationItems":[{"NotificationRequestItem":{"eventCode":"AUTHORISATION","success":"true","pspReference":"X","merchantAccountCode":"M","merchantReference":"r","amount":{"value":0,"currency":"EUR"},"additionalData":{"hmacSignature":"Zm9yZ2Vk","recurring.shopperReference":"forged"}}}]}`, nil, 401},
		{"gocardless forged", "/webhooks/sandbox/gocardless", "application/json",
			`{"events":[{"id":"EV1","resource_type":"mandates","action":"active","links":{"mandate":"MD1"}}]}`, map[string]string{"Webhook-Signature": strings.Repeat("ab", 32)}, 498},
		{"braintree forged", "/webhooks/sandbox/braintree", "application/x-www-form-urlencoded",
			"bt_signature=nope%7Cdeadbeef&bt_payload=PG5vdGlmaWNhdGlvbi8%2B", nil, 403},
	}
	for _, tc := range cases {
		if got := postWebhook(t, s, tc.path, tc.ctype, tc.body, tc.header); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	// A genuine event about a customer paysync does not know is
	// acknowledged and ignored.
	stranger := fmt.Sprintf(`{"id":"evt_stranger","object":"event","type":"payment_method.attached","created":%d,"data":{"object":{"id":"pm_y","object":"payment_method","customer":"cus_unknown"}}}`, time.Now().Unix())
	if got := postWebhook(t, s, "/webhooks/sandbox/stripe", "application/json", stranger,
		map[string]string{"Stripe-Signature": stripeemu.SignatureHeader([]byte(stranger), stripeemu.SandboxWebhookSecret, time.Now())}); got != 200 {
		t.Errorf("an event about an unknown customer: %d, want 200", got)
	}
	// The genuine signature on the same event is accepted: the refusals
	// above were about the signatures, not the route.
	good := map[string]string{"Stripe-Signature": stripeemu.SignatureHeader([]byte(event), stripeemu.SandboxWebhookSecret, time.Now())}
	if got := postWebhook(t, s, "/webhooks/sandbox/stripe", "application/json", event, good); got != 200 {
		t.Errorf("genuine webhook: %d", got)
	}
	// It claimed a payment method; the provider has none, and paysync
	// believes the provider, not the event.
	time.Sleep(500 * time.Millisecond)
	_, body = s.do(t, "GET", "/api/v1/customers/forged", nil)
	if billing(t, body)["has_payment_method"] != false {
		t.Errorf("an event body was trusted over the provider's state: %v", billing(t, body))
	}
}

// A detached method flips the flag back through the provider's webhook; a
// replayed delivery changes nothing; an event that arrives after a newer
// change converges to the provider's real state.
func TestWebhooksConvergeToProviderState(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[0].env(t), map[string]string{"PAYSYNC_REFRESH_INTERVAL": "1h"}))
	sink := newSink(t)
	registerSink(t, s, sink)
	_, body := s.do(t, "POST", "/api/v1/customers", customerFor("stripe", "converge", true))
	id := fmt.Sprint(billing(t, body)["provider_customer_id"])
	attachPath := "/sandbox/stripe/_sandbox/customers/" + id + "/payment_methods"

	sandboxPost(t, s, "POST", attachPath)
	s.waitHasPaymentMethod(t, "converge", true)
	sandboxPost(t, s, "DELETE", attachPath)
	s.waitHasPaymentMethod(t, "converge", false)
	eventually(t, 10*time.Second, "two payment_method_updated webhooks", func() bool {
		return len(sink.of("customer.payment_method_updated", "converge")) == 2
	})

	// Out of order: an attach event arrives after the method was detached
	// again, and is then replayed.
	sandboxPost(t, s, "POST", attachPath)
	s.waitHasPaymentMethod(t, "converge", true)
	sandboxPost(t, s, "DELETE", attachPath)
	s.waitHasPaymentMethod(t, "converge", false)
	eventually(t, 10*time.Second, "four payment_method_updated webhooks", func() bool {
		return len(sink.of("customer.payment_method_updated", "converge")) == 4
	})
	before := 4
	late := fmt.Sprintf(`{"id":"evt_late_attach","object":"event","type":"payment_method.attached","created":%d,"data":{"object":{"id":"pm_old","object":"payment_method","customer":%q}}}`, time.Now().Add(-time.Minute).Unix(), id)
	if got := postWebhook(t, s, "/webhooks/sandbox/stripe", "application/json", late,
		map[string]string{"Stripe-Signature": stripeemu.SignatureHeader([]byte(late), stripeemu.SandboxWebhookSecret, time.Now())}); got != 200 {
		t.Fatalf("late event: %d", got)
	}
	// Replayed: the same delivery again.
	postWebhook(t, s, "/webhooks/sandbox/stripe", "application/json", late,
		map[string]string{"Stripe-Signature": stripeemu.SignatureHeader([]byte(late), stripeemu.SandboxWebhookSecret, time.Now())})
	time.Sleep(time.Second)
	_, body = s.do(t, "GET", "/api/v1/customers/converge", nil)
	if billing(t, body)["has_payment_method"] != false {
		t.Fatalf("a late attach event overrode the provider's state: %v", billing(t, body))
	}
	if after := len(sink.of("customer.payment_method_updated", "converge")); after != before {
		t.Errorf("late and replayed events sent %d more client webhooks", after-before)
	}
}

// A client endpoint that is down is retried with backoff, each attempt is
// recorded, and the exhausted delivery is archived where asynqmon shows it.
func TestClientEndpointDownIsRetriedThenArchived(t *testing.T) {
	env := merge(baseEnv(t), backends[0].env(t), map[string]string{"PAYSYNC_WEBHOOK_MAX_RETRY": "2"})
	s := startServer(t, env)
	sink := newSink(t)
	sink.fail = true
	registerSink(t, s, sink)
	s.do(t, "POST", "/api/v1/customers", customerFor("stripe", "endpoint-down", true))
	eventually(t, 30*time.Second, "the delivery to be archived", func() bool {
		for _, task := range archivedTasks(t, env) {
			if task.Type == "webhook:deliver" {
				return true
			}
		}
		return false
	})
	attempts := sink.of("customer.payment_provider_created", "endpoint-down")
	if len(attempts) != 3 {
		t.Fatalf("%d attempts, want 3 (1 + 2 retries)", len(attempts))
	}
	// Each attempt is recorded, and the client can read them.
	_, body := s.do(t, "GET", "/api/v1/webhook_deliveries", nil)
	ds, _ := body["webhook_deliveries"].([]any)
	if len(ds) != 1 {
		t.Fatalf("deliveries: %v", body)
	}
	d := ds[0].(map[string]any)
	if d["attempts"] != float64(3) || d["last_http_status"] != float64(503) || d["delivered_at"] != nil ||
		d["x_lago_unique_key"] != attempts[0].uniqueKey || d["webhook_type"] != "customer.payment_provider_created" {
		t.Errorf("recorded delivery: %v", d)
	}
	for _, a := range attempts[1:] {
		if a.uniqueKey != attempts[0].uniqueKey {
			t.Errorf("X-Lago-Unique-Key changed between attempts: %q vs %q", a.uniqueKey, attempts[0].uniqueKey)
		}
	}
}

// A provider webhook that arrives while Redis is down is stored, answered,
// and processed once Redis is back.
func TestProviderWebhookWhileRedisIsDown(t *testing.T) {
	redis := startRedis(t)
	env := merge(baseEnv(t), map[string]string{
		"DATABASE_URL": testenv.PostgresURL(t), "REDIS_URL": redis.url,
		"PAYSYNC_REFRESH_INTERVAL": "1h", "PAYSYNC_RECONCILE_AFTER": "1s",
	})
	s := startServer(t, env)
	_, body := s.do(t, "POST", "/api/v1/customers", customerFor("stripe", "webhook-redis-down", true))
	id := fmt.Sprint(billing(t, body)["provider_customer_id"])

	redis.stop()
	// The end customer adds a card; Stripe's webhook reaches paysync while
	// its queue is down.
	sandboxPost(t, s, "POST", "/sandbox/stripe/_sandbox/customers/"+id+"/payment_methods")
	time.Sleep(time.Second)
	_, body = s.do(t, "GET", "/api/v1/customers/webhook-redis-down", nil)
	if billing(t, body)["has_payment_method"] != false {
		t.Fatalf("flag flipped without a worker: %v", billing(t, body))
	}
	redis.start()
	s.waitHasPaymentMethod(t, "webhook-redis-down", true)
}
