package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fetchPublicKey reads GET /api/v1/webhooks/public_key and decodes it as
// lago-go-client's GetPublicKey does: base64, then a PEM "PUBLIC KEY".
func fetchPublicKey(t *testing.T, s *server) (*rsa.PublicKey, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/webhooks/public_key", nil)
	req.Header.Set("Authorization", "Bearer "+s.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("public_key: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	der, err := base64.StdEncoding.DecodeString(string(raw)) // the line breaks are skipped
	if err != nil {
		t.Fatalf("public_key is not base64: %v", err)
	}
	block, _ := pem.Decode(der)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("public_key is not a PEM public key: %q", der)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	rk, ok := key.(*rsa.PublicKey)
	if err != nil || !ok || rk.N.BitLen() != 2048 {
		t.Fatalf("public key: %T %v", key, err)
	}
	return rk, string(raw)
}

// verifyJWT is what a Lago consumer does with a jwt endpoint's delivery
// (lago-go-client's ValidateBody): an RS256 token whose data claim is the body.
func verifyJWT(t *testing.T, key *rsa.PublicKey, issuer string, d delivered) {
	t.Helper()
	if d.algo != "jwt" {
		t.Fatalf("X-Lago-Signature-Algorithm %q", d.algo)
	}
	token, err := jwt.Parse(d.signature, func(tok *jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(issuer))
	if err != nil || !token.Valid {
		t.Fatalf("JWT does not verify: %v", err)
	}
	if claims := token.Claims.(jwt.MapClaims); claims["data"] != string(d.body) {
		t.Fatalf("data claim %q, body %q", claims["data"], d.body)
	}
}

func createEndpoint(t *testing.T, s *server, fields map[string]any) map[string]any {
	t.Helper()
	code, body := s.do(t, "POST", "/api/v1/webhook_endpoints", map[string]any{"webhook_endpoint": fields})
	if code != 200 {
		t.Fatalf("create endpoint %v: %d %v", fields, code, body)
	}
	return body["webhook_endpoint"].(map[string]any)
}

// Issue 9, items 1 and 2: an endpoint is JWT-signed unless it asks for
// HMAC, its deliveries verify with the key GET /api/v1/webhooks/public_key
// answers, and event_types picks what it receives.
func TestLagoJWTWebhooksAndEventTypes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, merge(baseEnv(t), b.env(t), map[string]string{"PAYSYNC_REFRESH_INTERVAL": "1h"}))
		all, checkoutOnly, hmacSink := newSink(t), newSink(t), newSink(t)
		e := createEndpoint(t, s, map[string]any{"webhook_url": all.srv.URL})
		if e["signature_algo"] != "jwt" || e["name"] != nil || e["event_types"] != nil || e["lago_id"] == "" {
			t.Fatalf("default endpoint: %v", e)
		}
		createEndpoint(t, s, map[string]any{"webhook_url": checkoutOnly.srv.URL, "name": "checkout",
			"event_types": []string{" Customer.Checkout_URL_Generated "}})
		createEndpoint(t, s, map[string]any{"webhook_url": hmacSink.srv.URL, "signature_algo": "hmac", "event_types": []string{"*"}})

		ext := "jwt-" + b.name
		if code, body := s.do(t, "POST", "/api/v1/customers", customerFor("stripe", ext, true)); code != 200 {
			t.Fatalf("create: %d %v", code, body)
		}
		eventually(t, 20*time.Second, "payment_provider_created at the jwt and hmac endpoints", func() bool {
			return len(all.of("customer.payment_provider_created", ext)) == 1 && len(hmacSink.of("customer.payment_provider_created", ext)) == 1
		})
		key, text := fetchPublicKey(t, s)
		verifyJWT(t, key, s.URL, all.of("customer.payment_provider_created", ext)[0])
		if lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n"); len(lines) < 2 || len(lines[0]) != 60 {
			t.Errorf("public_key is not in lines of 60 as Lago's: %q", text)
		}
		code, body := s.do(t, "GET", "/api/v1/webhooks/json_public_key", nil)
		if code != 200 || body["webhook"].(map[string]any)["public_key"] != text {
			t.Fatalf("json_public_key: %d %v", code, body)
		}
		code, body = s.do(t, "GET", "/api/v1/webhooks/hmac_key", nil)
		if hk, _ := body["webhook"].(map[string]any)["hmac_key"].(string); code != 200 || !lagoVerify(hk, hmacSink.of("customer.payment_provider_created", ext)[0]) {
			t.Fatalf("the hmac endpoint's delivery does not verify with hmac_key (%d %v)", code, body)
		}

		if code, body := s.do(t, "POST", "/api/v1/customers/"+ext+"/checkout_url", nil); code != 200 {
			t.Fatalf("checkout_url: %d %v", code, body)
		}
		eventually(t, 20*time.Second, "checkout_url_generated at the checkout endpoint", func() bool {
			return len(checkoutOnly.of("customer.checkout_url_generated", ext)) == 1
		})
		verifyJWT(t, key, s.URL, checkoutOnly.of("customer.checkout_url_generated", ext)[0])
		eventually(t, 20*time.Second, "checkout_url_generated at the other endpoints", func() bool {
			return len(all.of("customer.checkout_url_generated", ext)) == 1 && len(hmacSink.of("customer.checkout_url_generated", ext)) == 1
		})
		// The filtered endpoint got nothing else.
		checkoutOnly.mu.Lock()
		n := len(checkoutOnly.received)
		checkoutOnly.mu.Unlock()
		if n != 1 {
			t.Fatalf("the checkout-only endpoint got %d deliveries", n)
		}

		// Switching an endpoint to hmac signs its next deliveries with HMAC.
		code, body = s.do(t, "PUT", "/api/v1/webhook_endpoints/"+fmt.Sprint(e["lago_id"]),
			map[string]any{"webhook_endpoint": map[string]any{"signature_algo": "hmac"}})
		if code != 200 || body["webhook_endpoint"].(map[string]any)["signature_algo"] != "hmac" {
			t.Fatalf("update: %d %v", code, body)
		}
		if code, body := s.do(t, "POST", "/api/v1/customers/"+ext+"/checkout_url", nil); code != 200 {
			t.Fatalf("checkout_url: %d %v", code, body)
		}
		eventually(t, 20*time.Second, "the second checkout_url_generated", func() bool {
			return len(all.of("customer.checkout_url_generated", ext)) == 2
		})
		if d := all.of("customer.checkout_url_generated", ext)[1]; d.algo != "hmac" {
			t.Fatalf("after the switch to hmac: %q", d.algo)
		}
	})
}

// Webhook endpoints as Lago's API has them: create, update, validation
// errors naming the field, and the limit of 10.
func TestLagoWebhookEndpointsAPI(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, merge(baseEnv(t), b.env(t)))
		e := createEndpoint(t, s, map[string]any{"webhook_url": "https://a.example/hook", "name": "Billing",
			"signature_algo": "jwt", "event_types": []string{"customer.payment_provider_created", "customer.payment_provider_created"}})
		want := map[string]any{"lago_id": e["lago_id"], "lago_organization_id": e["lago_organization_id"],
			"webhook_url": "https://a.example/hook", "signature_algo": "jwt", "name": "Billing",
			"event_types": []any{"customer.payment_provider_created"}, "created_at": e["created_at"]}
		if !reflect.DeepEqual(e, want) {
			t.Fatalf("created %v\nwant %v", e, want)
		}
		path := "/api/v1/webhook_endpoints/" + fmt.Sprint(e["lago_id"])
		put := func(fields map[string]any) (int, map[string]any) {
			return s.do(t, "PUT", path, map[string]any{"webhook_endpoint": fields})
		}
		code, body := put(map[string]any{"webhook_url": "https://b.example/hook", "name": nil, "event_types": nil})
		want["webhook_url"], want["name"], want["event_types"] = "https://b.example/hook", nil, nil
		if code != 200 || !reflect.DeepEqual(body["webhook_endpoint"], want) {
			t.Fatalf("update: %d %v", code, body)
		}
		if code, body := s.do(t, "GET", path, nil); code != 200 || !reflect.DeepEqual(body["webhook_endpoint"], want) {
			t.Fatalf("get after update: %d %v", code, body)
		}

		invalid := []struct {
			fields map[string]any
			field  string
			reason string
		}{
			{map[string]any{"signature_algo": "rsa"}, "signature_algo", "value_is_invalid"},
			{map[string]any{"webhook_url": "not a url"}, "webhook_url", "url_is_invalid"},
			{map[string]any{"event_types": "customer.created"}, "event_types", "must_be_array"},
			{map[string]any{"event_types": []string{"customer.created", "nope.nope"}}, "event_types", `contains invalid types: ["nope.nope"]`},
		}
		for _, c := range invalid {
			code, body := put(c.fields)
			details, _ := body["error_details"].(map[string]any)
			if code != 422 || body["code"] != "validation_errors" || !reflect.DeepEqual(details[c.field], []any{c.reason}) {
				t.Errorf("PUT %v: %d %v", c.fields, code, body)
			}
		}
		if code, body := s.do(t, "PUT", "/api/v1/webhook_endpoints/00000000-0000-0000-0000-000000000000",
			map[string]any{"webhook_endpoint": map[string]any{"name": "x"}}); code != 404 || body["code"] != "webhook_endpoint_not_found" {
			t.Errorf("unknown endpoint: %d %v", code, body)
		}

		for i := 1; i < 10; i++ {
			createEndpoint(t, s, map[string]any{"webhook_url": fmt.Sprintf("https://a.example/%d", i)})
		}
		code, body = s.do(t, "POST", "/api/v1/webhook_endpoints", map[string]any{"webhook_endpoint": map[string]any{"webhook_url": "https://a.example/11"}})
		details, _ := body["error_details"].(map[string]any)
		if code != 422 || body["code"] != "validation_errors" || !reflect.DeepEqual(details["base"], []any{"Maximum number of webhook endpoints was reached"}) {
			t.Fatalf("the 11th endpoint: %d %v", code, body)
		}
	})
}
