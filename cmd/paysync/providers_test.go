package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sandboxProvider says how a test drives one provider's emulator.
type sandboxProvider struct {
	name string
	// idOK checks the provider customer id the sync stored.
	idOK func(id, externalID string) bool
	// attach is the emulator's sandbox path that adds a payment method.
	attach func(id string) string
}

var sandboxProviders = []sandboxProvider{
	{"stripe", func(id, _ string) bool { return strings.HasPrefix(id, "cus_") },
		func(id string) string { return "/sandbox/stripe/_sandbox/customers/" + id + "/payment_methods" }},
	// Adyen has no customer object: the shopper reference is the external id.
	{"adyen", func(id, ext string) bool { return id == ext },
		func(id string) string { return "/sandbox/adyen/_sandbox/shoppers/" + id + "/payment_methods" }},
	{"gocardless", func(id, _ string) bool { return strings.HasPrefix(id, "CU") },
		func(id string) string { return "/sandbox/gocardless/_sandbox/customers/" + id + "/mandates" }},
	// paysync chooses Braintree ids itself, deterministic per link generation.
	{"braintree", func(id, _ string) bool { return strings.HasPrefix(id, "ps") && len(id) <= 36 },
		func(id string) string { return "/sandbox/braintree/_sandbox/customers/" + id + "/payment_methods" }},
}

func customerFor(provider, externalID string, sync bool) map[string]any {
	body := seedCustomer(externalID, sync)
	bc := body["customer"].(map[string]any)["billing_configuration"].(map[string]any)
	bc["payment_provider"] = provider
	if provider != "stripe" {
		delete(bc, "provider_payment_methods") // a Stripe-only setting
	}
	if provider == "gocardless" {
		body["customer"].(map[string]any)["currency"] = "EUR"
	}
	return body
}

// sandboxPost calls an emulator's sandbox endpoint as a tester would.
func sandboxPost(t *testing.T, s *server, method, path string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer sk_test_sandbox") // only the Stripe emulator asks
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
}

// Issue 3's promise: every provider syncs inline and in the background, and
// a payment method added at the provider shows after a re-sync.
func TestEveryProviderSyncsInBothModes(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[1].env(t), map[string]string{"PAYSYNC_REFRESH_INTERVAL": "1h"}))
	for _, p := range sandboxProviders {
		for _, inline := range []bool{true, false} {
			ext := fmt.Sprintf("%s-inline-%v", p.name, inline)
			t.Run(ext, func(t *testing.T) {
				code, body := s.do(t, "POST", "/api/v1/customers", customerFor(p.name, ext, inline))
				if code != 200 {
					t.Fatalf("create: %d %v", code, body)
				}
				got := s.waitStatus(t, ext, "synced", 30*time.Second)
				bc := billing(t, got)
				id := fmt.Sprint(bc["provider_customer_id"])
				if !p.idOK(id, ext) || bc["payment_provider"] != p.name || bc["has_payment_method"] != false {
					t.Fatalf("synced customer: %v", bc)
				}
				sandboxPost(t, s, "POST", p.attach(id))
				code, body = s.do(t, "POST", "/api/v1/customers/"+ext+"/resync?sync=true", nil)
				if code != 200 || billing(t, body)["has_payment_method"] != true {
					t.Fatalf("after attach and resync: %d %v", code, body)
				}
			})
		}
	}
}

// webhookSink is a client endpoint that records what paysync delivers.
type webhookSink struct {
	mu       sync.Mutex
	received []delivered
	fail     bool
	srv      *httptest.Server
}

type delivered struct {
	body      []byte
	signature string
	algo      string
	uniqueKey string
	msg       map[string]any
}

func newSink(t *testing.T) *webhookSink {
	k := &webhookSink{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := delivered{body: body, signature: r.Header.Get("X-Lago-Signature"), algo: r.Header.Get("X-Lago-Signature-Algorithm"), uniqueKey: r.Header.Get("X-Lago-Unique-Key")}
		_ = json.Unmarshal(body, &d.msg)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.received = append(k.received, d)
		if k.fail {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(k.srv.Close)
	return k
}

// of returns the deliveries of one webhook type about one customer.
func (k *webhookSink) of(webhookType, externalID string) []delivered {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []delivered
	for _, d := range k.received {
		if d.msg["webhook_type"] != webhookType {
			continue
		}
		obj, _ := d.msg[fmt.Sprint(d.msg["object_type"])].(map[string]any)
		if obj["external_id"] == externalID || obj["external_customer_id"] == externalID {
			out = append(out, d)
		}
	}
	return out
}

// lagoVerify is what a Lago webhook consumer does with an hmac endpoint.
func lagoVerify(key string, d delivered) bool {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(d.body)
	return d.algo == "hmac" && hmac.Equal([]byte(d.signature), []byte(base64.StdEncoding.EncodeToString(m.Sum(nil))))
}

func registerSink(t *testing.T, s *server, k *webhookSink) string {
	t.Helper()
	code, body := s.do(t, "POST", "/api/v1/webhook_endpoints", map[string]any{"webhook_endpoint": map[string]any{"webhook_url": k.srv.URL, "signature_algo": "hmac"}})
	if code != 200 {
		t.Fatalf("webhook endpoint: %d %v", code, body)
	}
	code, body = s.do(t, "GET", "/api/v1/webhooks/hmac_key", nil)
	key, _ := body["webhook"].(map[string]any)["hmac_key"].(string)
	if code != 200 || key == "" {
		t.Fatalf("hmac key: %d %v", code, body)
	}
	return key
}

// Issue 5's promise: completing the provider's setup page for a freshly
// synced customer turns has_payment_method true through the provider's own
// signed webhook, and the client gets a customer.payment_method_updated it
// can verify as a Lago consumer does.
func TestSetupCompletedThroughProviderWebhook(t *testing.T) {
	// The scheduled refresh is pushed out of the way: only the webhook can flip the flag.
	s := startServer(t, merge(baseEnv(t), backends[0].env(t), map[string]string{"PAYSYNC_REFRESH_INTERVAL": "1h"}))
	sink := newSink(t)
	key := registerSink(t, s, sink)
	for _, p := range sandboxProviders {
		t.Run(p.name, func(t *testing.T) {
			ext := "setup-" + p.name
			code, body := s.do(t, "POST", "/api/v1/customers", customerFor(p.name, ext, true))
			if code != 200 || billing(t, body)["provider_sync_status"] != "synced" {
				t.Fatalf("create: %d %v", code, body)
			}
			id := fmt.Sprint(billing(t, body)["provider_customer_id"])
			eventually(t, 10*time.Second, "customer.payment_provider_created", func() bool {
				return len(sink.of("customer.payment_provider_created", ext)) == 1
			})

			code, body = s.do(t, "POST", "/api/v1/customers/"+ext+"/checkout_url", nil)
			if p.name == "braintree" {
				// Braintree hosts no setup page: a clear 422, and the
				// sandbox's vault endpoint stands in for the end customer.
				if code != 422 || !strings.Contains(fmt.Sprint(body), "feature_not_supported") {
					t.Fatalf("braintree checkout_url: %d %v", code, body)
				}
				sandboxPost(t, s, "POST", p.attach(id))
			} else {
				cust, _ := body["customer"].(map[string]any)
				url, _ := cust["checkout_url"].(string)
				if code != 200 || !strings.HasPrefix(url, s.URL+"/sandbox/"+p.name+"/") {
					t.Fatalf("checkout_url: %d %v", code, body)
				}
				completeSetupPage(t, url)
			}
			got := s.waitHasPaymentMethod(t, ext, true)
			if billing(t, got)["provider_sync_status"] != "synced" {
				t.Fatalf("after setup: %v", got)
			}
			var updates []delivered
			eventually(t, 15*time.Second, "customer.payment_method_updated", func() bool {
				updates = sink.of("customer.payment_method_updated", ext)
				return len(updates) > 0
			})
			if !lagoVerify(key, updates[0]) || updates[0].uniqueKey == "" {
				t.Fatalf("signature does not verify as Lago's: %+v", updates[0])
			}
			obj := updates[0].msg["customer"].(map[string]any)
			if obj["billing_configuration"].(map[string]any)["has_payment_method"] != true {
				t.Errorf("webhook object: %v", obj)
			}
		})
	}
}

func (s *server) waitHasPaymentMethod(t *testing.T, externalID string, want bool) map[string]any {
	t.Helper()
	var last map[string]any
	eventually(t, 20*time.Second, fmt.Sprintf("%s has_payment_method=%v", externalID, want), func() bool {
		_, last = s.do(t, "GET", "/api/v1/customers/"+externalID, nil)
		return billing(t, last)["has_payment_method"] == want
	})
	return last
}

// completeSetupPage plays the end customer: open the page, submit it.
func completeSetupPage(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("setup page %s: %d", url, resp.StatusCode)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.Post(url, "application/x-www-form-urlencoded", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Fatalf("complete setup %s: %d %s", url, resp.StatusCode, raw)
	}
}
