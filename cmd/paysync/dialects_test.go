package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Seeds 000 (Lotus) and 002 (Flexprice), with realistic values, against a
// fresh sandbox server: each customer reaches Stripe, and every dialect
// reads the result.
func TestLotusAndFlexpriceCustomersReachStripe(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[1].env(t)))

	code, lotus := doJSON(t, "POST", s.URL+"/api/customers/", "Token "+s.Key, `{
		"customer_name": "Corporation Inc.", "customer_id": "cust_0569173ee6654369",
		"email": "corporation@outlook.com", "payment_provider": "stripe",
		"properties": {"segment": "enterprise"}, "default_currency_code": "USD",
		"billing_address": {"city": "Cupertino", "country": "US", "line1": "1 Infinite Loop",
			"line2": "Building 4", "postal_code": "95014", "state": "CA"},
		"shipping_address": {"city": "Oranjestad", "country": "AW", "line1": "L.G. Smith Blvd 82",
			"line2": null, "postal_code": "00000", "state": "Aruba"},
		"tax_rate": 8.25}`)
	if code != 201 {
		t.Fatalf("lotus create: %d %v", code, lotus)
	}
	if code, _ = doJSON(t, "POST", s.URL+"/v1/customers", "", ""); code != 401 {
		t.Errorf("flexprice without x-api-key: %d", code)
	}
	req := `{"external_id": "acme-42", "name": "Acme Corp", "email": "billing@acme.test",
		"address_line1": "1 Main St", "address_line2": "Floor 3", "address_city": "Springfield",
		"address_state": "IL", "address_postal_code": "62701", "address_country": "US",
		"metadata": {"plan": "pro"}}`
	code, flex := flexpricePost(t, s, req)
	if code != 201 || flex["status"] != "published" {
		t.Fatalf("flexprice create: %d %v", code, flex)
	}

	// Both end up with a Stripe customer, read through Lago.
	for _, ext := range []string{"cust_0569173ee6654369", "acme-42"} {
		got := s.waitStatus(t, ext, "synced", 30*time.Second)
		if id := fmt.Sprint(billing(t, got)["provider_customer_id"]); !strings.HasPrefix(id, "cus_") {
			t.Errorf("%s: provider_customer_id %q", ext, id)
		}
	}
	// Lotus shows the real link in its own shape.
	_, lotus = doJSON(t, "GET", s.URL+"/api/customers/cust_0569173ee6654369/", "Token "+s.Key, nil)
	stripe, _ := lotus["integrations"].(map[string]any)["stripe"].(map[string]any)
	if !strings.HasPrefix(fmt.Sprint(stripe["stripe_id"]), "cus_") || lotus["payment_provider_id"] != stripe["stripe_id"] {
		t.Errorf("lotus integrations after the sync: %v", lotus["integrations"])
	}
}

func flexpricePost(t *testing.T, s *server, body string) (int, map[string]any) {
	t.Helper()
	return doJSONHeader(t, "POST", s.URL+"/v1/customers", map[string]string{"x-api-key": s.Key}, body)
}
