package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
)

// seedBody is the request of Lago's create-customer documentation
// (../shared/seeds/001), as its curl example sends it.
const seedBody = `{
  "customer": {
    "external_id": "5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba",
    "address_line1": "5230 Penfield Ave",
    "address_line2": "",
    "city": "Woodland Hills",
    "country": "US",
    "currency": "USD",
    "email": "dinesh@piedpiper.test",
    "legal_name": "Coleman-Blair",
    "legal_number": "49-008-2965",
    "tax_identification_number": "EU123456789",
    "logo_url": "http://hooli.com/logo.png",
    "name": "Gavin Belson",
    "phone": "1-171-883-3711 x245",
    "state": "CA",
    "timezone": "Europe/Paris",
    "url": "http://hooli.com",
    "zipcode": "91364",
    "billing_configuration": {
      "invoice_grace_period": 3,
      "payment_provider": "stripe",
      "provider_customer_id": "cus_12345",
      "sync": true,
      "sync_with_provider": true,
      "document_locale": "fr",
      "vat_rate": 12.5,
      "provider_payment_methods": ["card","sepa_debit"]
    },
    "metadata": [
      {"key": "Purchase Order", "value": "123456789", "display_in_invoice": true}
    ]
  }
}`

var (
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	slugPattern = regexp.MustCompile(`^PAY-[0-9A-F]{4}-001$`)
)

func TestLagoSeedRequest(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe-eu-1")
	h.syncer.set(paysync.SyncResult{State: paysync.SyncSynced, HasPaymentMethod: true}, nil)

	r := h.post(seedBody)
	wantStatus(t, r, http.StatusOK)
	body := r.json(t)
	c := body["customer"].(map[string]any)

	id, _ := c["lago_id"].(string)
	if !uuidPattern.MatchString(id) {
		t.Errorf("lago_id %q is not a UUID", id)
	}
	if slug, _ := c["slug"].(string); !slugPattern.MatchString(slug) {
		t.Errorf("slug %q", slug)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		s, _ := c[k].(string)
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil || !strings.HasSuffix(s, "Z") || time.Since(ts) > time.Minute {
			t.Errorf("%s = %q, want a recent RFC 3339 UTC time", k, s)
		}
	}
	want := map[string]any{
		"external_id":                  "5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba",
		"sequential_id":                1.0,
		"account_type":                 "customer",
		"name":                         "Gavin Belson",
		"firstname":                    nil,
		"lastname":                     nil,
		"customer_type":                nil,
		"address_line1":                "5230 Penfield Ave",
		"address_line2":                nil, // "" reads back as null, as Lago normalizes it
		"city":                         "Woodland Hills",
		"state":                        "CA",
		"zipcode":                      "91364",
		"country":                      "US",
		"currency":                     "USD",
		"email":                        "dinesh@piedpiper.test",
		"legal_name":                   "Coleman-Blair",
		"legal_number":                 "49-008-2965",
		"tax_identification_number":    "EU123456789",
		"logo_url":                     "http://hooli.com/logo.png",
		"url":                          "http://hooli.com",
		"phone":                        "1-171-883-3711 x245",
		"timezone":                     "Europe/Paris",
		"applicable_timezone":          "Europe/Paris",
		"net_payment_term":             nil,
		"finalize_zero_amount_invoice": "inherit",
	}
	for k, v := range want {
		if got := c[k]; fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	bc, _ := json.Marshal(c["billing_configuration"])
	jsonEqual(t, bc, `{
		"invoice_grace_period": 3, "payment_provider": "stripe", "payment_provider_code": "stripe-eu-1",
		"provider_customer_id": "cus_12345", "sync_with_provider": true, "document_locale": "fr",
		"provider_payment_methods": ["card", "sepa_debit"], "has_payment_method": true, "provider_sync_status": "synced",
		"subscription_invoice_issuing_date_anchor": null, "subscription_invoice_issuing_date_adjustment": null}`)
	sa, _ := json.Marshal(c["shipping_address"])
	jsonEqual(t, sa, `{"address_line1":null,"address_line2":null,"city":null,"zipcode":null,"state":null,"country":null}`)
	md := c["metadata"].([]any)
	if len(md) != 1 {
		t.Fatalf("metadata = %v", md)
	}
	m := md[0].(map[string]any)
	if m["key"] != "Purchase Order" || m["value"] != "123456789" || m["display_in_invoice"] != true ||
		!uuidPattern.MatchString(fmt.Sprint(m["lago_id"])) || m["created_at"] == nil {
		t.Errorf("metadata entry = %v", m)
	}
	for _, k := range []string{"taxes", "error_details", "integration_customers"} {
		if a, ok := c[k].([]any); !ok || len(a) != 0 {
			t.Errorf("%s = %#v, want []", k, c[k])
		}
	}

	// sync: true ran the link's first generation inline, and nothing was queued.
	stored := h.customer("5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba")
	if got := h.syncer.got(); len(got) != 1 || got[0] != (paysync.LinkRef{ID: stored.Link.ID, Generation: 1}) {
		t.Fatalf("syncer calls %v, want the link's generation 1", got)
	}
	if q := h.queue.got(); len(q) != 0 {
		t.Fatalf("queued %v after a successful inline sync", q)
	}
	if !stored.Link.LinkOnly || stored.Link.ProviderCustomerID != "cus_12345" {
		t.Fatalf("stored link %+v, want link mode with cus_12345", stored.Link)
	}

	// GET answers the same document.
	g := h.get("/api/v1/customers/5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba")
	wantStatus(t, g, http.StatusOK)
	jsonEqual(t, g.body, string(r.body))
}

// The response example of Lago's documentation, sent back as a request,
// has numbers as strings and read-only keys: Rails casts and ignores them.
func TestLagoDocumentationExampleAsRequest(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe")
	r := h.post(`{"customer": {
		"address_line1": "5230 Penfield Ave", "address_line2": "null", "applicable_timezone": "America/Los_Angeles",
		"billing_configuration": {"document_locale": "fr", "invoice_grace_period": "3", "payment_provider": "stripe",
			"provider_customer_id": "cus_12345", "provider_payment_methods": ["card", "sepa_debit"], "sync": true, "sync_with_provider": true},
		"city": "Woodland Hills", "country": "US", "created_at": "2022-04-29T08:59:51Z", "currency": "USD",
		"email": "dinesh@piedpiper.test", "external_id": "5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba",
		"lago_id": "1a901a90-1a90-1a90-1a90-1a901a901a90", "net_payment_term": "30", "sequential_id": "1",
		"slug": "LAG-1234-001", "timezone": "America/Los_Angeles",
		"metadata": [{"created_at": "2022-04-29T08:59:51Z", "display_in_invoice": true, "key": "Purchase Order",
			"lago_id": "1a901a90-1a90-1a90-1a90-1a901a901a90", "value": "123456789"}],
		"taxes": [{"code": "french_standard_vat", "rate": "20"}]}}`)
	wantStatus(t, r, http.StatusOK)
	c := r.json(t)["customer"].(map[string]any)
	if c["net_payment_term"] != 30.0 || path(c, "billing_configuration", "invoice_grace_period") != 3.0 {
		t.Fatalf("numbers given as strings: net_payment_term %v, invoice_grace_period %v", c["net_payment_term"], path(c, "billing_configuration", "invoice_grace_period"))
	}
	if c["lago_id"] == "1a901a90-1a90-1a90-1a90-1a901a901a90" || c["slug"] == "LAG-1234-001" || c["timezone"] != "America/Los_Angeles" {
		t.Fatalf("read-only keys were taken from the request: %v %v", c["lago_id"], c["slug"])
	}
}

func TestLagoUpsertIsIdempotent(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		h.conns.add(h.org.ID, paysync.Stripe, "stripe")
		first := h.post(seedBody)
		wantStatus(t, first, http.StatusOK)
		second := h.post(seedBody)
		wantStatus(t, second, http.StatusOK)
		a, b := first.json(t)["customer"].(map[string]any), second.json(t)["customer"].(map[string]any)
		if a["lago_id"] != b["lago_id"] || a["sequential_id"] != b["sequential_id"] {
			t.Fatalf("second upsert made another customer: %v vs %v", a["lago_id"], b["lago_id"])
		}
		if path(a, "metadata") == nil || fmt.Sprint(path(a, "metadata")) != fmt.Sprint(path(b, "metadata")) {
			t.Fatalf("metadata changed identity: %v vs %v", path(a, "metadata"), path(b, "metadata"))
		}
		if n := h.countCustomers(h.org.ID); n != 1 {
			t.Fatalf("%d customers after the same upsert twice, want 1", n)
		}
		// The same provider customer id does not start another generation.
		if got := h.customer("5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba").Link.Generation; got != 1 {
			t.Fatalf("link generation %d after a repeated request, want 1", got)
		}
	})
}

func TestLagoPartialUpdate(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Adyen, "adyen")
	wantStatus(t, h.post(`{"customer":{"external_id":"c1","name":"Ada","email":"ada@example.com","phone":"+33 1 23",
		"city":"Paris","country":"fr","net_payment_term":15,"currency":"EUR",
		"shipping_address":{"city":"Lyon","country":"FR","zipcode":"69001"},
		"billing_configuration":{"payment_provider":"adyen","sync_with_provider":true,"invoice_grace_period":2},
		"metadata":[{"key":"team","value":"ops"}]}}`), http.StatusOK)
	before := h.customer("c1")

	r := h.post(`{"customer":{"external_id":"c1","name":"Ada Lovelace","email":null,"net_payment_term":null,
		"shipping_address":{"city":null},"billing_configuration":{"document_locale":"en"}}}`)
	wantStatus(t, r, http.StatusOK)
	c := r.json(t)["customer"].(map[string]any)
	checks := map[string]any{
		"name": "Ada Lovelace", "email": nil, "net_payment_term": nil, // changed or cleared
		"phone": "+33 1 23", "city": "Paris", "country": "FR", "currency": "EUR", // kept
	}
	for k, v := range checks {
		if fmt.Sprint(c[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	if path(c, "shipping_address", "city") != nil || path(c, "shipping_address", "zipcode") != "69001" || path(c, "shipping_address", "country") != "FR" {
		t.Errorf("shipping_address = %v", c["shipping_address"])
	}
	if path(c, "billing_configuration", "invoice_grace_period") != 2.0 || path(c, "billing_configuration", "document_locale") != "en" ||
		path(c, "billing_configuration", "payment_provider") != "adyen" {
		t.Errorf("billing_configuration = %v", c["billing_configuration"])
	}
	if md := c["metadata"].([]any); len(md) != 1 || path(md[0], "key") != "team" {
		t.Errorf("metadata = %v, want it kept when absent", md)
	}
	after := h.customer("c1")
	if after.Link == nil || after.Link.ID != before.Link.ID || after.Link.Generation != before.Link.Generation {
		t.Fatalf("a request without provider keys changed the link: %+v -> %+v", before.Link, after.Link)
	}

	// payment_provider: null removes the link; metadata: [] removes entries.
	r = h.post(`{"customer":{"external_id":"c1","billing_configuration":{"payment_provider":null},"metadata":[]}}`)
	wantStatus(t, r, http.StatusOK)
	c = r.json(t)["customer"].(map[string]any)
	if path(c, "billing_configuration", "provider_sync_status") != "none" || path(c, "billing_configuration", "payment_provider") != nil {
		t.Errorf("billing_configuration after payment_provider null = %v", c["billing_configuration"])
	}
	if md := c["metadata"].([]any); len(md) != 0 {
		t.Errorf("metadata = %v, want none", md)
	}
	if h.customer("c1").Link != nil {
		t.Fatal("the link is still stored")
	}
}

func TestLagoValidation(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe")
	long := strings.Repeat("x", 256)
	tests := []struct {
		name, customer string
		field, reason  string
	}{
		{"external_id missing", `{"name":"A"}`, "external_id", "value_is_mandatory"},
		{"external_id blank", `{"external_id":"  "}`, "external_id", "value_is_mandatory"},
		{"external_id null", `{"external_id":null}`, "external_id", "value_is_mandatory"},
		{"email", `{"external_id":"v","email":"not-an-email"}`, "email", "invalid_email_format"},
		{"email in a list", `{"external_id":"v","email":"a@b.co,nope"}`, "email", "invalid_email_format"},
		{"country", `{"external_id":"v","country":"XX"}`, "country", "not_a_valid_country_code"},
		{"shipping country", `{"external_id":"v","shipping_address":{"country":"USA"}}`, "shipping_country", "not_a_valid_country_code"},
		{"currency", `{"external_id":"v","currency":"EURO"}`, "currency", "value_is_invalid"},
		{"timezone", `{"external_id":"v","timezone":"Mars/Olympus"}`, "timezone", "invalid_timezone"},
		{"document_locale", `{"external_id":"v","billing_configuration":{"document_locale":"xx"}}`, "document_locale", "not_a_valid_language_code"},
		{"payment_provider", `{"external_id":"v","billing_configuration":{"payment_provider":"paypal"}}`, "payment_provider", "value_is_invalid"},
		{"payment method", `{"external_id":"v","billing_configuration":{"provider_payment_methods":["card","cash"]}}`, "provider_payment_methods", "value_is_invalid"},
		{"link without card", `{"external_id":"v","billing_configuration":{"provider_payment_methods":["link","sepa_debit"]}}`, "provider_payment_methods", "link_requires_card"},
		{"customer_balance with card", `{"external_id":"v","billing_configuration":{"provider_payment_methods":["customer_balance","card"]}}`, "provider_payment_methods", "customer_balance_must_be_exclusive"},
		{"customer_type", `{"external_id":"v","customer_type":"robot"}`, "customer_type", "value_is_invalid"},
		{"account_type", `{"external_id":"v","account_type":"vendor"}`, "account_type", "value_is_invalid"},
		{"finalize_zero_amount_invoice", `{"external_id":"v","finalize_zero_amount_invoice":"always"}`, "finalize_zero_amount_invoice", "invalid_value"},
		{"net_payment_term negative", `{"external_id":"v","net_payment_term":-1}`, "net_payment_term", "value_is_out_of_range"},
		{"invoice_grace_period negative", `{"external_id":"v","billing_configuration":{"invoice_grace_period":-3}}`, "invoice_grace_period", "value_is_out_of_range"},
		{"net_payment_term huge", `{"external_id":"v","net_payment_term":99999999999}`, "net_payment_term", "value_is_out_of_range"},
		{"url", `{"external_id":"v","url":"hooli.com"}`, "url", "url_is_invalid"},
		{"logo_url", `{"external_id":"v","logo_url":"ftp://hooli.com/logo.png"}`, "logo_url", "url_is_invalid"},
		{"name too long", `{"external_id":"v","name":"` + long + `"}`, "name", "value_is_too_long"},
		{"metadata key empty", `{"external_id":"v","metadata":[{"key":"","value":"1"}]}`, "metadata[0].key", "value_is_mandatory"},
		{"metadata key twice", `{"external_id":"v","metadata":[{"key":"a","value":"1"},{"key":"a","value":"2"}]}`, "metadata[1].key", "value_already_exist"},
		{"metadata value empty", `{"external_id":"v","metadata":[{"key":"a","value":""}]}`, "metadata[0].value", "value_is_mandatory"},
		{"metadata count", `{"external_id":"v","metadata":[{"key":"a","value":"1"},{"key":"b","value":"1"},{"key":"c","value":"1"},{"key":"d","value":"1"},{"key":"e","value":"1"},{"key":"f","value":"1"}]}`, "metadata", "invalid_count"},
		// Wrong JSON types are 422s naming the field, not 400s.
		{"number for a string", `{"external_id":"v","name":123}`, "name", "invalid_type"},
		{"number for external_id", `{"external_id":42}`, "external_id", "invalid_type"},
		{"sync yes", `{"external_id":"v","billing_configuration":{"sync":"yes"}}`, "sync", "invalid_type"},
		{"sync_with_provider 1", `{"external_id":"v","billing_configuration":{"sync_with_provider":1}}`, "sync_with_provider", "invalid_type"},
		{"word for a number", `{"external_id":"v","net_payment_term":"thirty"}`, "net_payment_term", "invalid_type"},
		{"fraction for a number", `{"external_id":"v","billing_configuration":{"invoice_grace_period":1.5}}`, "invoice_grace_period", "invalid_type"},
		{"string for an array", `{"external_id":"v","billing_configuration":{"provider_payment_methods":"card"}}`, "provider_payment_methods", "invalid_type"},
		{"numbers in tax_codes", `{"external_id":"v","tax_codes":[1,2]}`, "tax_codes", "invalid_type"},
		{"string for an object", `{"external_id":"v","billing_configuration":"stripe"}`, "billing_configuration", "invalid_type"},
		{"array for shipping", `{"external_id":"v","shipping_address":["Lyon"]}`, "shipping_address", "invalid_type"},
		{"object for metadata", `{"external_id":"v","metadata":{"key":"a"}}`, "metadata", "invalid_type"},
		{"string metadata entry", `{"external_id":"v","metadata":["a"]}`, "metadata[0]", "invalid_type"},
		{"boolean display_in_invoice", `{"external_id":"v","metadata":[{"key":"a","value":"1","display_in_invoice":"sure"}]}`, "metadata[0].display_in_invoice", "invalid_type"},
		{"number for a country", `{"external_id":"v","country":33}`, "country", "invalid_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(`{"customer":` + tt.customer + `}`)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			body := r.json(t)
			if body["status"] != 422.0 || body["error"] != "Unprocessable Entity" || body["code"] != "validation_errors" {
				t.Fatalf("body %s", r.body)
			}
			reasons, _ := path(body, "error_details", tt.field).([]any)
			if !containsReason(reasons, tt.reason) {
				t.Fatalf("error_details %s, want %s: [%s]", r.body, tt.field, tt.reason)
			}
		})
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by invalid requests", n)
	}
	if len(h.queue.got())+len(h.syncer.got()) != 0 {
		t.Fatal("invalid requests reached the queue or the syncer")
	}
}

func containsReason(reasons []any, want string) bool {
	for _, r := range reasons {
		if r == want {
			return true
		}
	}
	return false
}

// One 422 names every problem of the request.
func TestLagoValidationListsEveryProblem(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.post(`{"customer":{"email":"x","country":"ZZ","currency":"usd","name":7,
		"billing_configuration":{"sync":"yes","payment_provider":"paypal"}}}`)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	jsonEqual(t, r.body, `{"status":422,"error":"Unprocessable Entity","code":"validation_errors","error_details":{
		"external_id":["value_is_mandatory"],"email":["invalid_email_format"],"country":["not_a_valid_country_code"],
		"currency":["value_is_invalid"],"name":["invalid_type"],"sync":["invalid_type"],"payment_provider":["value_is_invalid"]}}`)
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written", n)
	}
}

func TestLagoBadRequests(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	missing := `{"status":400,"error":"BadRequest: param is missing or the value is empty: customer"}`
	tests := []struct{ name, body, want string }{
		{"no customer", `{"client":{"external_id":"c1"}}`, missing},
		{"null customer", `{"customer":null}`, missing},
		{"empty customer", `{"customer":{}}`, missing},
		{"string customer", `{"customer":"c1"}`, missing},
		{"empty body", ``, missing},
		{"top-level null", `null`, missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(tt.body)
			wantStatus(t, r, http.StatusBadRequest)
			jsonEqual(t, r.body, tt.want)
		})
	}
	for _, body := range []string{`{"customer":{"external_id":"c1",}}`, `{"customer":`, `[1,2]`, `{"customer":{"external_id":"c1"}} trailing`, `{'customer':1}`} {
		t.Run("malformed "+body, func(t *testing.T) {
			r := h.post(body)
			wantStatus(t, r, http.StatusBadRequest)
			b := r.json(t)
			if b["status"] != 400.0 || !strings.HasPrefix(fmt.Sprint(b["error"]), "BadRequest: ") || len(b) != 2 {
				t.Fatalf("body %s", r.body)
			}
		})
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by bad requests", n)
	}
}

func TestLagoBodyTooLarge(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	big := `{"customer":{"external_id":"big","name":"` + strings.Repeat("a", 1<<20) + `"}}`
	// With a Content-Length, and chunked (no length known up front).
	for _, body := range []io.Reader{strings.NewReader(big), io.MultiReader(strings.NewReader(big))} {
		r := h.do("POST", "/api/v1/customers", h.key, body)
		wantStatus(t, r, http.StatusRequestEntityTooLarge)
		jsonEqual(t, r.body, `{"status":413,"error":"Payload Too Large"}`)
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by an oversized request", n)
	}
	// Just under the limit is fine as far as size goes.
	ok := `{"customer":{"external_id":"ok","legal_name":"` + strings.Repeat("a", 1<<19) + `"}}`
	wantStatus(t, h.do("POST", "/api/v1/customers", h.key, bytes.NewReader([]byte(ok))), http.StatusOK)
}

func TestLagoTenantIsolation(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		wantStatus(t, h.post(`{"customer":{"external_id":"shared-ext","name":"Org A customer"}}`), http.StatusOK)
		_, otherKey := h.newOrganization("globex")

		notFound := `{"status":404,"error":"Not Found","code":"customer_not_found"}`
		r := h.do("GET", "/api/v1/customers/shared-ext", otherKey, nil)
		wantStatus(t, r, http.StatusNotFound)
		jsonEqual(t, r.body, notFound)
		r = h.do("DELETE", "/api/v1/customers/shared-ext", otherKey, nil)
		wantStatus(t, r, http.StatusNotFound)
		jsonEqual(t, r.body, notFound)
		r = h.do("POST", "/api/v1/customers/shared-ext/resync", otherKey, nil)
		wantStatus(t, r, http.StatusNotFound)
		r = h.do("GET", "/api/v1/customers", otherKey, nil)
		wantStatus(t, r, http.StatusOK)
		jsonEqual(t, r.body, `{"customers":[],"meta":{"current_page":0,"next_page":null,"prev_page":null,"total_pages":0,"total_count":0}}`)

		// The same external id in the other organization is another customer.
		r = h.do("POST", "/api/v1/customers", otherKey, strings.NewReader(`{"customer":{"external_id":"shared-ext","name":"Org B customer"}}`))
		wantStatus(t, r, http.StatusOK)
		mine := h.get("/api/v1/customers/shared-ext").json(t)["customer"].(map[string]any)
		theirs := r.json(t)["customer"].(map[string]any)
		if mine["lago_id"] == theirs["lago_id"] || mine["name"] != "Org A customer" {
			t.Fatalf("organizations share a customer: %v / %v", mine, theirs)
		}
	})
}

func TestLagoListPaging(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	for i := 1; i <= 5; i++ {
		wantStatus(t, h.post(fmt.Sprintf(`{"customer":{"external_id":"c%d"}}`, i)), http.StatusOK)
	}
	list := func(query string) (ids []string, meta string) {
		r := h.get("/api/v1/customers" + query)
		wantStatus(t, r, http.StatusOK)
		var body struct {
			Customers []struct {
				ExternalID string `json:"external_id"`
			} `json:"customers"`
			Meta json.RawMessage `json:"meta"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		for _, c := range body.Customers {
			ids = append(ids, c.ExternalID)
		}
		return ids, string(body.Meta)
	}
	tests := []struct{ query, ids, meta string }{
		{"?page=1&per_page=2", "[c1 c2]", `{"current_page":1,"next_page":2,"prev_page":null,"total_pages":3,"total_count":5}`},
		{"?page=2&per_page=2", "[c3 c4]", `{"current_page":2,"next_page":3,"prev_page":1,"total_pages":3,"total_count":5}`},
		{"?page=3&per_page=2", "[c5]", `{"current_page":3,"next_page":null,"prev_page":2,"total_pages":3,"total_count":5}`},
		{"?page=4&per_page=2", "[]", `{"current_page":0,"next_page":null,"prev_page":null,"total_pages":0,"total_count":0}`},
		{"", "[c1 c2 c3 c4 c5]", `{"current_page":1,"next_page":null,"prev_page":null,"total_pages":1,"total_count":5}`},
		// Values that are not positive numbers fall back to the defaults, as Kaminari does.
		{"?page=abc&per_page=-4", "[c1 c2 c3 c4 c5]", `{"current_page":1,"next_page":null,"prev_page":null,"total_pages":1,"total_count":5}`},
		{"?page=0&per_page=0", "[c1 c2 c3 c4 c5]", `{"current_page":1,"next_page":null,"prev_page":null,"total_pages":1,"total_count":5}`},
	}
	for _, tt := range tests {
		ids, meta := list(tt.query)
		if fmt.Sprint(ids) != tt.ids && !(tt.ids == "[]" && len(ids) == 0) {
			t.Errorf("%s: customers %v, want %s", tt.query, ids, tt.ids)
		}
		jsonEqual(t, []byte(meta), tt.meta)
	}
}

func TestLagoDelete(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	created := h.post(`{"customer":{"external_id":"gone","name":"Soon Gone"}}`)
	wantStatus(t, created, http.StatusOK)
	r := h.do("DELETE", "/api/v1/customers/gone", h.key, nil)
	wantStatus(t, r, http.StatusOK)
	if path(r.json(t), "customer", "lago_id") != path(created.json(t), "customer", "lago_id") || path(r.json(t), "customer", "name") != "Soon Gone" {
		t.Fatalf("delete answered %s", r.body)
	}
	r = h.get("/api/v1/customers/gone")
	wantStatus(t, r, http.StatusNotFound)
	jsonEqual(t, r.body, `{"status":404,"error":"Not Found","code":"customer_not_found"}`)
	wantStatus(t, h.do("DELETE", "/api/v1/customers/gone", h.key, nil), http.StatusNotFound)
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers after delete", n)
	}
}

func TestLagoExternalIDWithSlash(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	wantStatus(t, h.post(`{"customer":{"external_id":"team/42"}}`), http.StatusOK)
	r := h.get("/api/v1/customers/team%2F42")
	wantStatus(t, r, http.StatusOK)
	if path(r.json(t), "customer", "external_id") != "team/42" {
		t.Fatalf("got %s", r.body)
	}
}

func TestLagoProviderWithoutConnection(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.post(`{"customer":{"external_id":"c1","billing_configuration":{"payment_provider":"gocardless","sync_with_provider":true}}}`)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	b := r.json(t)
	if b["code"] != "validation_errors" || path(b, "error_details", "payment_provider") == nil {
		t.Fatalf("body %s, want payment_provider named", r.body)
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written", n)
	}
}

func TestLagoConnectionCodeMissing(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe-eu")
	h.conns.add(h.org.ID, paysync.Stripe, "stripe-us")
	r := h.post(`{"customer":{"external_id":"c1","billing_configuration":{"payment_provider":"stripe","sync_with_provider":true}}}`)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	jsonEqual(t, r.body, `{"status":422,"error":"Unprocessable Entity","code":"validation_errors","error_details":{"payment_provider_code":["payment_provider_code_missing"]}}`)
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written", n)
	}
	// A code that names no connection is the request's fault: 422, not 404.
	r = h.post(`{"customer":{"external_id":"c1","billing_configuration":{"payment_provider":"stripe","payment_provider_code":"stripe-xx","sync_with_provider":true}}}`)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	jsonEqual(t, r.body, `{"status":422,"error":"Unprocessable Entity","code":"validation_errors","error_details":{"payment_provider_code":["payment_provider_not_found"]}}`)
	r = h.post(`{"customer":{"external_id":"c1","billing_configuration":{"payment_provider":"stripe","payment_provider_code":"stripe-us","sync_with_provider":true}}}`)
	wantStatus(t, r, http.StatusOK)
	if path(r.json(t), "customer", "billing_configuration", "payment_provider_code") != "stripe-us" {
		t.Fatalf("body %s", r.body)
	}
}

func TestLagoSyncWithProviderQueues(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Braintree, "braintree")
	r := h.post(`{"customer":{"external_id":"c1","email":"c1@example.com","billing_configuration":{"payment_provider":"braintree","sync_with_provider":true}}}`)
	wantStatus(t, r, http.StatusOK)
	if s := path(r.json(t), "customer", "billing_configuration", "provider_sync_status"); s != "pending" {
		t.Fatalf("provider_sync_status %v, want pending", s)
	}
	link := h.customer("c1").Link
	if got := h.queue.got(); len(got) != 1 || got[0] != link.Ref() {
		t.Fatalf("queued %v, want [%v]", got, link.Ref())
	}
	if len(h.syncer.got()) != 0 {
		t.Fatal("the syncer ran without sync: true")
	}
}

func TestLagoSyncInline(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.GoCardless, "gc")
	h.syncer.set(paysync.SyncResult{State: paysync.SyncFailed, Error: &paysync.ProviderError{
		Provider: paysync.GoCardless, Code: "invalid_api_usage", Message: "given_name is required", HTTPStatus: 422,
	}}, &paysync.ProviderError{Provider: paysync.GoCardless, Code: "invalid_api_usage", HTTPStatus: 422})

	r := h.post(`{"customer":{"external_id":"c1","billing_configuration":{"payment_provider":"gocardless","sync_with_provider":true,"sync":true}}}`)
	wantStatus(t, r, http.StatusOK) // a provider failure never fails the request
	link := h.customer("c1").Link
	if got := h.syncer.got(); len(got) != 1 || got[0] != link.Ref() {
		t.Fatalf("syncer calls %v, want [%v]", got, link.Ref())
	}
	if len(h.queue.got()) != 0 {
		t.Fatal("a permanent inline failure was queued")
	}
	c := r.json(t)["customer"].(map[string]any)
	if path(c, "billing_configuration", "provider_sync_status") != "failed" {
		t.Fatalf("billing_configuration %v", c["billing_configuration"])
	}
	details, _ := c["error_details"].([]any)
	if len(details) != 1 {
		t.Fatalf("error_details %v", c["error_details"])
	}
	d, _ := json.Marshal(path(details[0], "details"))
	jsonEqual(t, d, `{"provider":"gocardless","code":"invalid_api_usage","message":"given_name is required","http_status":"422"}`)
	if path(details[0], "error_code") != "payment_provider_error" || !uuidPattern.MatchString(fmt.Sprint(path(details[0], "lago_id"))) {
		t.Fatalf("error detail %v", details[0])
	}
	// The error detail keeps its id across reads.
	again := h.get("/api/v1/customers/c1").json(t)
	if path(again, "customer", "error_details").([]any)[0].(map[string]any)["lago_id"] != path(details[0], "lago_id") {
		t.Fatal("error detail lago_id changed between reads")
	}

	// Resync after the fix: a new generation, run inline with ?sync=true.
	h.syncer.set(paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "CU123", HasPaymentMethod: true}, nil)
	r = h.do("POST", "/api/v1/customers/c1/resync?sync=true", h.key, nil)
	wantStatus(t, r, http.StatusOK)
	c = r.json(t)["customer"].(map[string]any)
	if path(c, "billing_configuration", "provider_sync_status") != "synced" || path(c, "billing_configuration", "provider_customer_id") != "CU123" ||
		path(c, "billing_configuration", "has_payment_method") != true || len(c["error_details"].([]any)) != 0 {
		t.Fatalf("after resync: %s", r.body)
	}
	if got := h.syncer.got(); len(got) != 2 || got[1] != (paysync.LinkRef{ID: link.ID, Generation: link.Generation + 1}) {
		t.Fatalf("syncer calls %v, want generation %d", got, link.Generation+1)
	}
}

func TestLagoResync(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe")
	wantStatus(t, h.post(`{"customer":{"external_id":"plain"}}`), http.StatusOK)
	r := h.do("POST", "/api/v1/customers/plain/resync", h.key, nil)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if path(r.json(t), "error_details", "base") == nil {
		t.Fatalf("body %s", r.body)
	}
	r = h.do("POST", "/api/v1/customers/nobody/resync", h.key, nil)
	wantStatus(t, r, http.StatusNotFound)
	jsonEqual(t, r.body, `{"status":404,"error":"Not Found","code":"customer_not_found"}`)

	// Without ?sync=true the new generation is queued.
	wantStatus(t, h.post(`{"customer":{"external_id":"s1","billing_configuration":{"payment_provider":"stripe","sync_with_provider":true}}}`), http.StatusOK)
	first := h.customer("s1").Link.Ref()
	if _, err := h.store.RecordSync(context.Background(), first, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_1"}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.do("POST", "/api/v1/customers/s1/resync", h.key, nil), http.StatusOK)
	want := paysync.LinkRef{ID: first.ID, Generation: first.Generation + 1}
	if got := h.queue.got(); len(got) != 2 || got[1] != want {
		t.Fatalf("queued %v, want %v last", got, want)
	}
}
