package stripe_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/providers/stripe"
)

// TestStripeMock runs the adapter against stripe-mock, which validates
// every request against Stripe's OpenAPI spec: a parameter Stripe does not
// know, or a malformed one, fails the call.
func TestStripeMock(t *testing.T) {
	base := testenv.StripeMock(t)

	t.Run("CreateCustomer sends every field", func(t *testing.T) {
		t.Parallel()
		p, rec := newProvider(t, base, "sk_test_123")
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		id, err := idOf(p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()}))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(id, "cus_") {
			t.Errorf("id = %q, want a cus_ id", id)
		}
		reqs := rec.requests()
		if len(reqs) != 1 {
			t.Fatalf("sent %d requests, want 1 (no search for a fresh link): %+v", len(reqs), reqs)
		}
		r := reqs[0]
		if r.Method != http.MethodPost || r.Path != "/v1/customers" {
			t.Errorf("request = %s %s", r.Method, r.Path)
		}
		if got := r.Header.Get("Idempotency-Key"); got != "paysync-lnk_0001-1" {
			t.Errorf("Idempotency-Key = %q, want the request's key paysync-lnk_0001-1", got)
		}
		want := map[string]string{
			"name":                           "Acme Corp",
			"email":                          "billing@example.com",
			"phone":                          "+33102030405",
			"address[line1]":                 "1 Rue de la Paix",
			"address[line2]":                 "Bat. B",
			"address[city]":                  "Paris",
			"address[state]":                 "IDF",
			"address[postal_code]":           "75002",
			"address[country]":               "FR",
			"shipping[name]":                 "Acme Corp",
			"shipping[phone]":                "+33102030405",
			"shipping[address][line1]":       "2 Quai Branly",
			"shipping[address][city]":        "Paris",
			"shipping[address][postal_code]": "75007",
			"shipping[address][country]":     "FR",
			"preferred_locales[0]":           "fr",
			"metadata[paysync_customer_id]":  "c_0001",
			"metadata[paysync_external_id]":  "ext-0001",
			"metadata[paysync_link_id]":      "lnk_0001",
			"metadata[paysync_generation]":   "1",
		}
		for k, v := range want {
			if got := r.Form.Get(k); got != v {
				t.Errorf("form %s = %q, want %q", k, got, v)
			}
		}
		for k := range r.Form {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected form field %s = %q (an unset field must not be sent)", k, r.Form.Get(k))
			}
		}
	})

	t.Run("CreateCustomer omits unset fields", func(t *testing.T) {
		t.Parallel()
		p, rec := newProvider(t, base, "sk_test_123")
		c := &paysync.Customer{ID: "c_2", ExternalID: "ext-2", FirstName: "Ada", LastName: "Lovelace",
			BillingAddress: paysync.Address{Country: "GB"}}
		link := &paysync.ProviderLink{ID: "lnk_2", Generation: 1, PendingSince: time.Now()}
		if _, err := p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()}); err != nil {
			t.Fatal(err)
		}
		f := rec.requests()[0].Form
		if f.Get("name") != "Ada Lovelace" || f.Get("address[country]") != "GB" {
			t.Errorf("name %q, address[country] %q", f.Get("name"), f.Get("address[country]"))
		}
		for _, k := range []string{"email", "phone", "address[line1]", "shipping[name]", "preferred_locales[0]"} {
			if f.Has(k) {
				t.Errorf("%s sent though unset", k)
			}
		}
	})

	t.Run("CreateCustomer searches once the key may have expired", func(t *testing.T) {
		t.Parallel()
		p, rec := newProvider(t, base, "sk_test_123")
		c, link := fullCustomer()
		link.PendingSince = time.Now().Add(-48 * time.Hour)
		id, err := idOf(p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()}))
		if err != nil {
			t.Fatal(err)
		}
		// stripe-mock's search returns a customer to adopt, whose status is
		// then read: no create.
		reqs := rec.requests()
		var calls []string
		for _, r := range reqs {
			calls = append(calls, r.Method+" "+r.Path)
		}
		if got, want := strings.Join(calls, ", "), "GET /v1/customers/search, GET /v1/customers/"+id+", GET /v1/customers/"+id+"/payment_methods"; got != want {
			t.Fatalf("sent %s, want %s", got, want)
		}
		r := reqs[0]
		if r.Method != http.MethodGet || r.Path != "/v1/customers/search" {
			t.Fatalf("request = %s %s, want GET /v1/customers/search", r.Method, r.Path)
		}
		// By link only: whichever generation created the customer, it is the link's.
		wantQuery := "metadata['paysync_link_id']:'lnk_0001'"
		if got := r.Form.Get("query"); got != wantQuery {
			t.Errorf("query = %q, want %q", got, wantQuery)
		}
		if !strings.HasPrefix(id, "cus_") {
			t.Errorf("adopted id = %q, want stripe-mock's search fixture", id)
		}
	})

	t.Run("CustomerStatus", func(t *testing.T) {
		t.Parallel()
		p, rec := newProvider(t, base, "sk_test_123")
		st, err := p.CustomerStatus(context.Background(), "cus_123")
		if err != nil {
			t.Fatal(err)
		}
		// stripe-mock's customer has no default payment method or source,
		// and its payment method list has one card: the fallback must find it.
		if !st.HasPaymentMethod {
			t.Error("HasPaymentMethod = false, want true from the payment method list")
		}
		reqs := rec.requests()
		if len(reqs) != 2 || reqs[0].Path != "/v1/customers/cus_123" || reqs[1].Path != "/v1/customers/cus_123/payment_methods" {
			t.Fatalf("requests = %+v, want the customer then its payment methods", reqs)
		}
		if got := reqs[1].Form.Get("limit"); got != "1" {
			t.Errorf("payment methods limit = %q, want 1", got)
		}
	})

	t.Run("SetupLink", func(t *testing.T) {
		t.Parallel()
		p, rec := newProvider(t, base, "sk_test_123")
		c := &paysync.Customer{ProviderPaymentMethods: []string{"card", "sepa_debit"}}
		u, err := p.SetupLink(context.Background(), c, "cus_123", "https://app.example.test/done", "setup-key-1")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u, "https://checkout.stripe.com/") {
			t.Errorf("url = %q", u)
		}
		r := rec.requests()[0]
		want := map[string]string{
			"mode": "setup", "customer": "cus_123", "payment_method_types[0]": "card", "payment_method_types[1]": "sepa_debit",
			"success_url": "https://app.example.test/done", "cancel_url": "https://app.example.test/done",
		}
		for k, v := range want {
			if got := r.Form.Get(k); got != v {
				t.Errorf("form %s = %q, want %q", k, got, v)
			}
		}
		if r.Path != "/v1/checkout/sessions" || r.Header.Get("Idempotency-Key") != "setup-key-1" {
			t.Errorf("request %s with Idempotency-Key %q", r.Path, r.Header.Get("Idempotency-Key"))
		}
	})

	t.Run("a request Stripe rejects is permanent", func(t *testing.T) {
		t.Parallel()
		p, _ := newProvider(t, base, "sk_test_123")
		c := &paysync.Customer{ProviderPaymentMethods: []string{"not_a_method"}}
		_, err := p.SetupLink(context.Background(), c, "cus_123", "https://app.example.test/done", "")
		pe := providerError(t, err)
		if pe.Retryable || pe.HTTPStatus != http.StatusBadRequest || pe.Code != "invalid_request_error" || pe.Message == "" {
			t.Errorf("error = %+v, want a permanent 400 invalid_request_error with Stripe's message", pe)
		}
		if paysync.IsRetryable(err) {
			t.Error("IsRetryable = true")
		}
	})

	t.Run("a bad key is permanent", func(t *testing.T) {
		t.Parallel()
		p, _ := newProvider(t, base, "not-a-key")
		_, err := p.CustomerStatus(context.Background(), "cus_123")
		pe := providerError(t, err)
		if pe.Retryable || pe.HTTPStatus != http.StatusUnauthorized {
			t.Errorf("error = %+v, want permanent 401", pe)
		}
	})
}

func TestNewRequiresKey(t *testing.T) {
	t.Parallel()
	_, err := stripe.New(paysync.Connection{Provider: paysync.Stripe}, nil)
	if err == nil || err.Error() != "credentials.secret_key is required" {
		t.Errorf("New without a key: %v", err)
	}
	// A sandbox connection gets no default key either: the wiring gives it one.
	if _, err := stripe.New(paysync.Connection{Provider: paysync.Stripe, Sandbox: true}, nil); err == nil {
		t.Error("New for a sandbox connection without a key succeeded")
	}
}
