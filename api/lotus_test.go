package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
)

// lotusSeedBody is the create request of Lotus's documentation
// (../shared/seeds/000) with realistic values: the seed's own tax_rate,
// 499.99995, has 8 digits and Lotus refuses it (see the validation test).
const lotusSeedBody = `{
  "customer_name": "Corporation Inc.",
  "customer_id": "cust_0569173ee6654369",
  "email": "corporation@outlook.com",
  "payment_provider": "stripe",
  "payment_provider_id": "cus_NffrFeUfNV2Hib",
  "properties": {"plan_tier": "enterprise", "seats": 12, "owner": {"team": "billing"}},
  "default_currency_code": "EUR",
  "address": {"city": "Oranjestad", "country": "AW", "line1": "L.G. Smith Blvd 62", "line2": "Suite 4", "postal_code": "00000", "state": "Aruba"},
  "billing_address": {"city": "Oslo", "country": "NO", "line1": "Karl Johans gate 22", "line2": null, "postal_code": "0159", "state": null},
  "shipping_address": {"city": "Bergen", "country": "NO", "line1": "Bryggen 15", "line2": "3. etasje", "postal_code": "5003", "state": "Vestland"},
  "tax_rate": 8.875
}`

// lotusSeedResponse is what paysync answers to it: Lotus's Customer with
// the stripe integration of the linked customer, not yet verified.
const lotusSeedResponse = `{
  "customer_id": "cust_0569173ee6654369",
  "email": "corporation@outlook.com",
  "customer_name": "Corporation Inc.",
  "invoices": [],
  "total_amount_due": 0,
  "subscriptions": [],
  "integrations": {"stripe": {"stripe_id": "cus_NffrFeUfNV2Hib", "has_payment_method": false}, "braintree": null},
  "default_currency": {"code": "EUR", "name": "Euro", "symbol": "€"},
  "payment_provider": "stripe",
  "payment_provider_id": "cus_NffrFeUfNV2Hib",
  "has_payment_method": false,
  "address": {"city": "Oslo", "country": "NO", "line1": "Karl Johans gate 22", "line2": null, "postal_code": "0159", "state": null},
  "billing_address": {"city": "Oslo", "country": "NO", "line1": "Karl Johans gate 22", "line2": null, "postal_code": "0159", "state": null},
  "shipping_address": {"city": "Bergen", "country": "NO", "line1": "Bryggen 15", "line2": "3. etasje", "postal_code": "5003", "state": "Vestland"},
  "tax_rate": 8.875,
  "timezone": "UTC",
  "tax_providers": []
}`

const lotusClientErrorType = "https://docs.uselotus.io/errors/error-responses#client-error"

// withToken authenticates as Lotus's documentation shows.
func withToken(key string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Token "+key) }
}

// withAPIKey authenticates with Lotus's organization API key header.
func withAPIKey(key string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("X-API-KEY", key) }
}

func (h *harness) lotusPost(body string) response {
	h.t.Helper()
	return h.request("POST", "/api/customers/", withToken(h.key), strings.NewReader(body))
}

func (h *harness) lotusGet(path string) response {
	h.t.Helper()
	return h.request("GET", path, withToken(h.key), nil)
}

func TestLotusSeedRequest(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe")

	r := h.lotusPost(lotusSeedBody)
	wantStatus(t, r, http.StatusCreated)
	jsonEqual(t, r.body, lotusSeedResponse)

	// The domain customer holds every field; billing_address won over its
	// deprecated alias address, as in Lotus's create().
	c := h.customer("cust_0569173ee6654369")
	if c.Name != "Corporation Inc." || c.Email != "corporation@outlook.com" || c.Currency != "EUR" ||
		c.TaxRate == nil || *c.TaxRate != 8.875 || c.BillingAddress.City != "Oslo" || c.ShippingAddress.State != "Vestland" {
		t.Fatalf("stored customer %+v", c)
	}
	jsonEqual(t, c.Properties, `{"plan_tier":"enterprise","seats":12,"owner":{"team":"billing"}}`)

	// Link mode: the given Stripe customer is verified by the job.
	l := c.Link
	if l == nil || l.Provider != paysync.Stripe || l.ConnectionCode != "stripe" || l.ProviderCustomerID != "cus_NffrFeUfNV2Hib" ||
		!l.LinkOnly || l.SyncWithProvider || l.State != paysync.SyncPending {
		t.Fatalf("link %+v, want a pending link-only Stripe link", l)
	}
	if got := h.queue.got(); len(got) != 1 || got[0] != l.Ref() {
		t.Fatalf("queued %v, want [%v]", got, l.Ref())
	}
	if len(h.syncer.got()) != 0 {
		t.Fatal("Lotus requests never sync inline")
	}

	g := h.lotusGet("/api/customers/cust_0569173ee6654369/")
	wantStatus(t, g, http.StatusOK)
	jsonEqual(t, g.body, lotusSeedResponse)

	// The request log names routes, never ids, emails or keys.
	logs := h.logs.String()
	if !strings.Contains(logs, `"route":"GET /api/customers/{customer_id}/{$}"`) {
		t.Errorf("log lacks the route:\n%s", logs)
	}
	for _, secret := range []string{"cust_0569173ee6654369", "corporation@", "Corporation Inc", "cus_NffrFeUfNV2Hib", h.key} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

// What Lotus's schema cannot express shows as Lotus could hold it: the
// first email of a list, no partial or over-long address.
func TestLotusViewOfWiderData(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	wantStatus(t, h.post(`{"customer":{"external_id":"wide","email":"ap@hooli.example, cfo@hooli.example","city":"Paris",
		"shipping_address":{"address_line1":"1 Road","city":"`+strings.Repeat("L", 51)+`","zipcode":"LL61 5UJ","country":"GB"}}}`), http.StatusOK)
	r := h.lotusGet("/api/customers/wide/")
	wantStatus(t, r, http.StatusOK)
	b := r.json(t)
	if b["email"] != "ap@hooli.example" || b["address"] != nil || b["billing_address"] != nil || b["shipping_address"] != nil {
		t.Fatalf("body %s", r.body)
	}
	// The data is kept: Lago still reads all of it.
	c := h.get("/api/v1/customers/wide").json(t)["customer"].(map[string]any)
	if c["email"] != "ap@hooli.example, cfo@hooli.example" || c["city"] != "Paris" || path(c, "shipping_address", "zipcode") != "LL61 5UJ" {
		t.Fatalf("lago view %v", c)
	}
}

// properties are stored as given, compacted; Lotus does not show them.
func TestLotusProperties(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		// Text paysync could only store rewritten is refused, naming the property.
		for _, bad := range []string{"\"nul\":\"a\\u0000b\"", "\"bad\":\"\xff\""} {
			r := h.lotusPost("{\"customer_id\":\"p0\",\"email\":\"p0@example.com\",\"properties\":{" + bad + "}}")
			wantStatus(t, r, http.StatusBadRequest)
			if !fieldNamed(t, r, "properties."+bad[1:4]) {
				t.Fatalf("body %s", r.body)
			}
		}
		body := "{\"customer_id\":\"p1\",\"email\":\"p1@example.com\",\"properties\":{ \"tier\" : \"gold\", \"n\": [1, 2.50] }}"
		r := h.lotusPost(body)
		wantStatus(t, r, http.StatusCreated)
		if _, ok := r.json(t)["properties"]; ok {
			t.Fatal("properties is not a key of Lotus's Customer")
		}
		got := h.customer("p1").Properties
		if string(got) != `{"tier":"gold","n":[1,2.50]}` || !json.Valid(got) {
			t.Fatalf("stored properties %q", got)
		}
		wantStatus(t, h.lotusPost(`{"customer_id":"p2","email":"p2@example.com","properties":null}`), http.StatusCreated)
		if p := h.customer("p2").Properties; p != nil {
			t.Fatalf("null properties stored as %q", p)
		}
	})
}

// Tax rates at Lotus's bounds, in the forms DRF's DecimalField reads.
func TestLotusTaxRateBounds(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	tests := []struct {
		in   string
		want float64
	}{{"0", 0}, {"999.9999", 999.9999}, {"0.0001", 0.0001}, {`"007.50"`, 7.5}, {"1e2", 100}, {`" 19.6 "`, 19.6}, {"-0", 0}}
	for i, tt := range tests {
		r := h.lotusPost(fmt.Sprintf(`{"customer_id":"t%d","email":"t%d@example.com","tax_rate":%s}`, i, i, tt.in))
		wantStatus(t, r, http.StatusCreated)
		if got := r.json(t)["tax_rate"]; got != tt.want {
			t.Errorf("tax_rate %s reads %v, want %v", tt.in, got, tt.want)
		}
	}
}

// The smallest request Lotus accepts: the defaults Lotus shows.
func TestLotusMinimalRequest(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.lotusPost(`{"customer_id":"  cust_min  ","email":" min@example.com "}`)
	wantStatus(t, r, http.StatusCreated)
	jsonEqual(t, r.body, `{"customer_id":"cust_min","email":"min@example.com","customer_name":null,"invoices":[],
		"total_amount_due":0,"subscriptions":[],"integrations":{"stripe":null,"braintree":null},
		"default_currency":{"code":"USD","name":"US Dollar","symbol":"$"},"payment_provider":null,
		"payment_provider_id":null,"has_payment_method":false,"address":null,"billing_address":null,
		"shipping_address":null,"tax_rate":null,"timezone":"UTC","tax_providers":[]}`)
	// USD is shown, not stored: Lago still reads "no currency chosen".
	c := h.customer("cust_min")
	if c.Currency != "" || c.Link != nil || c.Properties != nil || c.TaxRate != nil {
		t.Fatalf("stored %+v", c)
	}
	if len(h.queue.got()) != 0 {
		t.Fatal("a customer without provider was queued")
	}
	// Lotus's numbers-as-strings: DRF reads "12.5" and 7 as it reads 12.5 and "7".
	r = h.lotusPost(`{"customer_id":7,"email":"seven@example.com","tax_rate":"12.5","customer_name":""}`)
	wantStatus(t, r, http.StatusCreated)
	b := r.json(t)
	if b["customer_id"] != "7" || b["tax_rate"] != 12.5 || b["customer_name"] != nil {
		t.Fatalf("body %s", r.body)
	}
}

func TestLotusAuthentication(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	notAuthenticated := `{"type":"` + lotusClientErrorType + `","detail":"Authentication credentials were not provided.","title":"not_authenticated"}`
	invalidToken := `{"type":"` + lotusClientErrorType + `","detail":"Invalid token.","title":"authentication_failed"}`
	header := func(name, value string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(name, value) }
	}
	tests := []struct {
		name string
		auth func(*http.Request)
		want string
	}{
		{"no credentials", nil, notAuthenticated},
		{"bearer", header("Authorization", "Bearer "+h.key), notAuthenticated},
		{"bare key", header("Authorization", h.key), notAuthenticated},
		{"wrong api key", withAPIKey("00000000-0000-0000-0000-000000000000"), notAuthenticated},
		{"empty api key", withAPIKey(""), notAuthenticated},
		{"wrong token", withToken("00000000-0000-0000-0000-000000000000"), invalidToken},
		{"token without key", header("Authorization", "Token"), invalidToken},
		{"token with spaces", header("Authorization", "Token "+h.key+" extra"), invalidToken},
		// knox authenticates first: a bad token fails even beside a good API key.
		{"wrong token, right api key", func(r *http.Request) {
			withToken("nope")(r)
			withAPIKey(h.key)(r)
		}, invalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/api/customers/", "/api/customers/x/", "/api/customers/x/delete/"} {
				method := "POST"
				if path == "/api/customers/x/" {
					method = "GET"
				}
				r := h.request(method, path, tt.auth, strings.NewReader(`{"customer_id":"c1","email":"c1@example.com"}`))
				wantStatus(t, r, http.StatusUnauthorized)
				jsonEqual(t, r.body, tt.want)
				if got := r.header.Get("WWW-Authenticate"); got != "Token" {
					t.Fatalf("WWW-Authenticate = %q, want Token", got)
				}
			}
		})
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by unauthenticated requests", n)
	}

	// Both of Lotus's schemes work; the Token scheme is case-insensitive.
	for i, auth := range []func(*http.Request){withToken(h.key), withAPIKey(h.key), header("Authorization", "token "+h.key)} {
		body := fmt.Sprintf(`{"customer_id":"c%d","email":"c%d@example.com"}`, i, i)
		r := h.request("POST", "/api/customers/", auth, strings.NewReader(body))
		wantStatus(t, r, http.StatusCreated)
		wantStatus(t, h.request("GET", fmt.Sprintf("/api/customers/c%d/", i), auth, nil), http.StatusOK)
	}
}

func TestLotusDuplicates(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		h.conns.add(h.org.ID, paysync.Stripe, "stripe")
		wantStatus(t, h.lotusPost(`{"customer_id":"acme-1","email":"billing@acme.example","customer_name":"Acme",
			"payment_provider":"stripe","payment_provider_id":"cus_acme"}`), http.StatusCreated)
		before := h.customer("acme-1")
		queued := len(h.queue.got())

		dupID := `{"type":"` + lotusClientErrorType + `","detail":"Customer ID already exists","title":"duplicate_resource"}`
		dupEmail := `{"type":"` + lotusClientErrorType + `","detail":"Customer email already exists","title":"duplicate_resource"}`
		tests := []struct{ name, body, want string }{
			{"same customer_id", `{"customer_id":"acme-1","email":"other@acme.example","customer_name":"Changed","payment_provider":"stripe","payment_provider_id":"cus_other"}`, dupID},
			{"same id and email", `{"customer_id":"acme-1","email":"billing@acme.example"}`, dupID},
			{"same email", `{"customer_id":"acme-2","email":"billing@acme.example"}`, dupEmail},
		}
		for _, tt := range tests {
			r := h.lotusPost(tt.body)
			wantStatus(t, r, http.StatusBadRequest)
			jsonEqual(t, r.body, tt.want)
		}
		after := h.customer("acme-1")
		if after.Name != "Acme" || after.Email != before.Email || after.Link.ProviderCustomerID != "cus_acme" ||
			after.Link.Generation != before.Link.Generation || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("a refused duplicate changed the customer: %+v -> %+v", before, after)
		}
		if n := h.countCustomers(h.org.ID); n != 1 {
			t.Fatalf("%d customers, want 1", n)
		}
		if len(h.queue.got()) != queued {
			t.Fatal("a refused duplicate was queued")
		}

		// An email taken through another dialect is taken too.
		wantStatus(t, h.post(`{"customer":{"external_id":"lago-1","email":"ops@acme.example"}}`), http.StatusOK)
		r := h.lotusPost(`{"customer_id":"acme-3","email":"ops@acme.example"}`)
		wantStatus(t, r, http.StatusBadRequest)
		jsonEqual(t, r.body, dupEmail)
	})
}

func TestLotusValidation(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe")
	valid := func(extra string) string {
		return `{"customer_id":"v1","email":"v1@example.com"` + extra + `}`
	}
	// addr is a valid billing address with key set to the JSON value.
	addr := func(key, value string) string {
		fields := map[string]string{"city": `"Oslo"`, "country": `"NO"`, "line1": `"Karl Johans gate 22"`, "postal_code": `"0159"`}
		fields[key] = value
		var parts []string
		for k, v := range fields {
			parts = append(parts, strconv.Quote(k)+":"+v)
		}
		return `,"billing_address":{` + strings.Join(parts, ",") + `}`
	}
	tests := []struct {
		name, body         string
		attr, code, detail string
	}{
		{"customer_id missing", `{"email":"v1@example.com"}`, "customer_id", "required", "This field is required."},
		{"customer_id blank", `{"customer_id":"   ","email":"v1@example.com"}`, "customer_id", "blank", "This field may not be blank."},
		{"customer_id null", `{"customer_id":null,"email":"v1@example.com"}`, "customer_id", "null", "This field may not be null."},
		{"customer_id object", `{"customer_id":{"id":1},"email":"v1@example.com"}`, "customer_id", "invalid", "Not a valid string."},
		{"customer_id with NUL", `{"customer_id":"a\u0000b","email":"v1@example.com"}`, "customer_id", "null_characters_not_allowed", "Null characters are not allowed."},
		{"email missing", `{"customer_id":"v1"}`, "email", "required", "This field is required."},
		{"email invalid", `{"customer_id":"v1","email":"not-an-email"}`, "email", "invalid", "Enter a valid email address."},
		{"email list", `{"customer_id":"v1","email":"a@example.com,b@example.com"}`, "email", "invalid", "Enter a valid email address."},
		{"email boolean", `{"customer_id":"v1","email":true}`, "email", "invalid", "Not a valid string."},
		{"email too long", `{"customer_id":"v1","email":"` + strings.Repeat("a", 90) + `@example.com"}`, "email", "max_length", "Ensure this field has no more than 100 characters."},
		{"customer_name too long", valid(`,"customer_name":"` + strings.Repeat("n", 101) + `"`), "customer_name", "max_length", "Ensure this field has no more than 100 characters."},
		{"customer_name array", valid(`,"customer_name":["Acme"]`), "customer_name", "invalid", "Not a valid string."},
		{"payment_provider unknown", valid(`,"payment_provider":"paypal"`), "payment_provider", "invalid_choice", `"paypal" is not a valid choice.`},
		{"payment_provider null", valid(`,"payment_provider":null`), "payment_provider", "null", "This field may not be null."},
		{"payment_provider number", valid(`,"payment_provider":1`), "payment_provider", "invalid_choice", `"1" is not a valid choice.`},
		{"payment_provider_id blank", valid(`,"payment_provider":"stripe","payment_provider_id":""`), "payment_provider_id", "blank", "This field may not be blank."},
		{"payment_provider_id alone", valid(`,"payment_provider_id":"cus_1"`), "non_field_errors", "invalid", "Payment provider required when payment provider ID is specified"},
		{"properties array", valid(`,"properties":["a"]`), "properties", "invalid", "Value must be a JSON object."},
		{"currency unknown", valid(`,"default_currency_code":"EURO"`), "default_currency_code", "does_not_exist", "Object with code=EURO does not exist."},
		{"currency lower case", valid(`,"default_currency_code":"usd"`), "default_currency_code", "does_not_exist", "Object with code=usd does not exist."},
		{"currency number", valid(`,"default_currency_code":978`), "default_currency_code", "does_not_exist", "Object with code=978 does not exist."},
		{"currency empty", valid(`,"default_currency_code":""`), "default_currency_code", "null", "This field may not be null."},
		{"currency object", valid(`,"default_currency_code":{"code":"EUR"}`), "default_currency_code", "invalid", "Invalid value."},
		{"country unknown", valid(`,"billing_address":{"city":"X","country":"XX","line1":"1 Main St","postal_code":"1"}`), "billing_address.country", "invalid_choice", `"XX" is not a valid choice.`},
		{"country lower case", valid(`,"shipping_address":{"city":"X","country":"us","line1":"1 Main St","postal_code":"1"}`), "shipping_address.country", "invalid_choice", `"us" is not a valid choice.`},
		{"country boolean", valid(`,"address":{"city":"X","country":false,"line1":"1 Main St","postal_code":"1"}`), "address.country", "invalid_choice", `"False" is not a valid choice.`},
		{"country missing", valid(`,"address":{"city":"X","line1":"1 Main St","postal_code":"1"}`), "address.country", "required", "This field is required."},
		{"city missing", valid(`,"shipping_address":{"country":"NO","line1":"Bryggen 15","postal_code":"5003"}`), "shipping_address.city", "required", "This field is required."},
		{"line1 too long", valid(addr("line1", `"`+strings.Repeat("l", 101)+`"`)), "billing_address.line1", "max_length", "Ensure this field has no more than 100 characters."},
		{"line2 blank", valid(addr("line2", `""`)), "billing_address.line2", "blank", "This field may not be blank."},
		{"state too long", valid(addr("state", `"`+strings.Repeat("s", 31)+`"`)), "billing_address.state", "max_length", "Ensure this field has no more than 30 characters."},
		{"address string", valid(`,"address":"Karl Johans gate 22, Oslo"`), "address.non_field_errors", "invalid", "Invalid data. Expected a dictionary, but got str."},
		{"address array", valid(`,"billing_address":[]`), "billing_address.non_field_errors", "invalid", "Invalid data. Expected a dictionary, but got list."},
		{"tax_rate negative", valid(`,"tax_rate":-1`), "tax_rate", "min_value", "Ensure this value is greater than or equal to 0."},
		{"tax_rate 1000", valid(`,"tax_rate":1000`), "tax_rate", "max_whole_digits", "Ensure that there are no more than 3 digits before the decimal point."},
		{"tax_rate 5 decimals", valid(`,"tax_rate":12.34567`), "tax_rate", "max_decimal_places", "Ensure that there are no more than 4 decimal places."},
		{"tax_rate of the seed", valid(`,"tax_rate":499.99995`), "tax_rate", "max_digits", "Ensure that there are no more than 7 digits in total."},
		{"tax_rate exponent", valid(`,"tax_rate":1e3`), "tax_rate", "max_whole_digits", "Ensure that there are no more than 3 digits before the decimal point."},
		{"tax_rate word", valid(`,"tax_rate":"ten"`), "tax_rate", "invalid", "A valid number is required."},
		{"tax_rate boolean", valid(`,"tax_rate":true`), "tax_rate", "invalid", "A valid number is required."},
		{"body array", `[{"customer_id":"v1"}]`, "non_field_errors", "invalid", "Invalid data. Expected a dictionary, but got list."},
		{"body string", `"v1"`, "non_field_errors", "invalid", "Invalid data. Expected a dictionary, but got str."},
		{"body null", `null`, "non_field_errors", "null", "No data provided"},
		{"empty body", ``, "customer_id", "required", "This field is required."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.lotusPost(tt.body)
			wantStatus(t, r, http.StatusBadRequest)
			var body struct {
				Type, Title, Detail string
				ValidationErrors    []struct{ Code, Detail, Attr string } `json:"validation_errors"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Type != "https://docs.uselotus.io/errors/error-responses#validation-error" || len(body.ValidationErrors) == 0 ||
				body.Title != body.ValidationErrors[0].Code || body.Detail != body.ValidationErrors[0].Detail {
				t.Fatalf("body %s", r.body)
			}
			for _, e := range body.ValidationErrors {
				if e.Attr == tt.attr && e.Code == tt.code && e.Detail == tt.detail {
					return
				}
			}
			t.Fatalf("body %s lacks {%s %s %q}", r.body, tt.attr, tt.code, tt.detail)
		})
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by invalid requests", n)
	}
	if len(h.queue.got())+len(h.syncer.got()) != 0 {
		t.Fatal("invalid requests reached the queue or the syncer")
	}
}

// One 400 lists every problem in the serializer's field order; the first
// names title and detail.
func TestLotusValidationListsEveryProblem(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.lotusPost(`{"tax_rate":-2,"email":"nope","payment_provider":"paypal",
		"billing_address":{"country":"ZZ","line1":"1 Main St","postal_code":"1","state":null}}`)
	wantStatus(t, r, http.StatusBadRequest)
	jsonEqual(t, r.body, `{"type":"https://docs.uselotus.io/errors/error-responses#validation-error",
		"detail":"This field is required.","title":"required","validation_errors":[
		{"code":"required","detail":"This field is required.","attr":"customer_id"},
		{"code":"invalid","detail":"Enter a valid email address.","attr":"email"},
		{"code":"invalid_choice","detail":"\"paypal\" is not a valid choice.","attr":"payment_provider"},
		{"code":"required","detail":"This field is required.","attr":"billing_address.city"},
		{"code":"invalid_choice","detail":"\"ZZ\" is not a valid choice.","attr":"billing_address.country"},
		{"code":"min_value","detail":"Ensure this value is greater than or equal to 0.","attr":"tax_rate"}]}`)
}

func TestLotusBadBodies(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	for _, body := range []string{`{"customer_id":"c1",}`, `{"customer_id":`, `{'customer_id':'c1'}`, `{"customer_id":"c1"} trailing`} {
		r := h.lotusPost(body)
		wantStatus(t, r, http.StatusBadRequest)
		b := r.json(t)
		if b["type"] != lotusClientErrorType || b["title"] != "parse_error" || !strings.HasPrefix(fmt.Sprint(b["detail"]), "JSON parse error - ") || len(b) != 3 {
			t.Fatalf("%s: body %s", body, r.body)
		}
	}

	big := `{"customer_id":"big","email":"big@example.com","customer_name":"` + strings.Repeat("a", 1<<20) + `"}`
	// With a Content-Length, and chunked (no length known up front).
	for _, body := range []io.Reader{strings.NewReader(big), io.MultiReader(strings.NewReader(big))} {
		r := h.request("POST", "/api/customers/", withToken(h.key), body)
		wantStatus(t, r, http.StatusRequestEntityTooLarge)
		jsonEqual(t, r.body, `{"type":"`+lotusClientErrorType+`","detail":"the request body is larger than 1 MiB","title":"payload_too_large"}`)
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by bad bodies", n)
	}
	// Just under the limit is fine as far as size goes.
	ok := `{"customer_id":"ok","email":"ok@example.com","properties":{"notes":"` + strings.Repeat("a", 1<<19) + `"}}`
	wantStatus(t, h.request("POST", "/api/customers/", withToken(h.key), bytes.NewReader([]byte(ok))), http.StatusCreated)
}

func TestLotusProviderModes(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Braintree, "braintree")
	h.conns.add(h.org.ID, paysync.Adyen, "adyen")

	// payment_provider without an id: created at the provider by the job,
	// where Lotus would refuse the request.
	r := h.lotusPost(`{"customer_id":"bt-1","email":"bt-1@example.com","payment_provider":"braintree"}`)
	wantStatus(t, r, http.StatusCreated)
	b := r.json(t)
	if b["payment_provider"] != "braintree" || b["payment_provider_id"] != nil || path(b, "integrations", "braintree") != nil || b["has_payment_method"] != false {
		t.Fatalf("body %s", r.body)
	}
	l := h.customer("bt-1").Link
	if l == nil || l.LinkOnly || !l.SyncWithProvider || l.ProviderCustomerID != "" || l.State != paysync.SyncPending {
		t.Fatalf("link %+v, want create mode", l)
	}
	if got := h.queue.got(); len(got) != 1 || got[0] != l.Ref() {
		t.Fatalf("queued %v, want [%v]", got, l.Ref())
	}

	// The job's outcome shows in the integrations.
	if ok, err := h.store.RecordSync(context.Background(), l.Ref(), paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "paysync_bt_1", HasPaymentMethod: true}); err != nil || !ok {
		t.Fatalf("RecordSync = %v, %v", ok, err)
	}
	g := h.lotusGet("/api/customers/bt-1/")
	wantStatus(t, g, http.StatusOK)
	b = g.json(t)
	integrations, _ := json.Marshal(b["integrations"])
	jsonEqual(t, integrations, `{"stripe":null,"braintree":{"braintree_id":"paysync_bt_1","has_payment_method":true}}`)
	if b["payment_provider_id"] != "paysync_bt_1" || b["has_payment_method"] != true {
		t.Fatalf("body %s", g.body)
	}

	// paysync's other providers: Lotus's integrations have no key for them.
	r = h.lotusPost(`{"customer_id":"ady-1","email":"ady-1@example.com","payment_provider":"adyen","payment_provider_id":"ady-1"}`)
	wantStatus(t, r, http.StatusCreated)
	b = r.json(t)
	integrations, _ = json.Marshal(b["integrations"])
	jsonEqual(t, integrations, `{"stripe":null,"braintree":null}`)
	if b["payment_provider"] != "adyen" || b["payment_provider_id"] != "ady-1" {
		t.Fatalf("body %s", r.body)
	}
	if l := h.customer("ady-1").Link; !l.LinkOnly || l.ProviderCustomerID != "ady-1" {
		t.Fatalf("link %+v", l)
	}

	// A provider the organization has no connection for: Lotus's refusal.
	r = h.lotusPost(`{"customer_id":"gc-1","email":"gc-1@example.com","payment_provider":"gocardless","payment_provider_id":"CU123"}`)
	wantStatus(t, r, http.StatusBadRequest)
	jsonEqual(t, r.body, `{"type":"https://docs.uselotus.io/errors/error-responses#validation-error",
		"detail":"Specified payment provider not connected to organization","title":"invalid",
		"validation_errors":[{"code":"invalid","detail":"Specified payment provider not connected to organization","attr":"non_field_errors"}]}`)

	// Two connections of one provider: the request cannot name one.
	h.conns.add(h.org.ID, paysync.Adyen, "adyen-us")
	r = h.lotusPost(`{"customer_id":"ady-2","email":"ady-2@example.com","payment_provider":"adyen"}`)
	wantStatus(t, r, http.StatusBadRequest)
	if b := r.json(t); b["title"] != "invalid" || path(b["validation_errors"].([]any)[0], "attr") != "payment_provider" {
		t.Fatalf("body %s", r.body)
	}
	for _, id := range []string{"gc-1", "ady-2"} {
		if _, err := h.store.Customer(context.Background(), h.org.ID, paysync.CustomerKey{ExternalID: id}); paysync.ErrorCode(err) != paysync.ENOTFOUND {
			t.Fatalf("%s was stored: %v", id, err)
		}
	}
}

// No payment_provider: a connection flagged sync_new_customers takes the
// customer, as Lotus creates it at every connected provider.
func TestLotusSyncNewCustomers(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.mu.Lock()
	h.conns.conns = append(h.conns.conns, paysync.Connection{OrganizationID: h.org.ID, Provider: paysync.Stripe, Code: "stripe", SyncNewCustomers: true})
	h.conns.mu.Unlock()
	r := h.lotusPost(`{"customer_id":"auto-1","email":"auto-1@example.com"}`)
	wantStatus(t, r, http.StatusCreated)
	if b := r.json(t); b["payment_provider"] != "stripe" || b["payment_provider_id"] != nil {
		t.Fatalf("body %s", r.body)
	}
	l := h.customer("auto-1").Link
	if l == nil || l.LinkOnly || !l.SyncWithProvider {
		t.Fatalf("link %+v, want create mode on the flagged connection", l)
	}
	if got := h.queue.got(); len(got) != 1 || got[0] != l.Ref() {
		t.Fatalf("queued %v", got)
	}
}

func TestLotusGetListDelete(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	empty := h.lotusGet("/api/customers/")
	wantStatus(t, empty, http.StatusOK)
	jsonEqual(t, empty.body, `[]`)

	wantStatus(t, h.lotusPost(`{"customer_id":"first","email":"first@example.com","customer_name":"First"}`), http.StatusCreated)
	// Without the trailing slash too.
	wantStatus(t, h.request("POST", "/api/customers", withToken(h.key), strings.NewReader(`{"customer_id":"team/2","email":"second@example.com"}`)), http.StatusCreated)

	list := h.lotusGet("/api/customers/")
	wantStatus(t, list, http.StatusOK)
	var customers []map[string]any
	if err := json.Unmarshal(list.body, &customers); err != nil {
		t.Fatalf("list is not a JSON array: %v: %s", err, list.body)
	}
	if len(customers) != 2 || customers[0]["customer_id"] != "first" || customers[1]["customer_id"] != "team/2" {
		t.Fatalf("list %s", list.body)
	}
	one := h.lotusGet("/api/customers/first/")
	wantStatus(t, one, http.StatusOK)
	first, _ := json.Marshal(customers[0])
	jsonEqual(t, one.body, string(first))
	// An id with a slash, escaped in the path.
	wantStatus(t, h.lotusGet("/api/customers/team%2F2/"), http.StatusOK)

	del := h.request("POST", "/api/customers/first/delete/", withToken(h.key), nil)
	wantStatus(t, del, http.StatusOK)
	b := del.json(t)
	deleted, err := time.Parse(time.RFC3339Nano, fmt.Sprint(b["deleted"]))
	if err != nil || time.Since(deleted) > time.Minute || !strings.HasSuffix(fmt.Sprint(b["deleted"]), "Z") {
		t.Fatalf("deleted = %v (%v)", b["deleted"], err)
	}
	delete(b, "deleted")
	got, _ := json.Marshal(b)
	jsonEqual(t, got, `{"customer_id":"first","email":"first@example.com","num_subscriptions_deleted":0,"num_addons_deleted":0}`)

	notFound := `{"type":"` + lotusClientErrorType + `","detail":"Not found.","title":"not_found"}`
	for _, r := range []response{
		h.lotusGet("/api/customers/first/"),
		h.request("POST", "/api/customers/first/delete/", withToken(h.key), nil),
		h.lotusGet("/api/customers/nobody/"),
	} {
		wantStatus(t, r, http.StatusNotFound)
		jsonEqual(t, r.body, notFound)
	}
	if n := h.countCustomers(h.org.ID); n != 1 {
		t.Fatalf("%d customers after one delete, want 1", n)
	}
	// Lotus's other customer routes are not served: 404 in its shape, before authentication.
	r := h.request("GET", "/api/customers/team%2F2/cost_analysis/", nil, nil)
	wantStatus(t, r, http.StatusNotFound)
	jsonEqual(t, r.body, notFound)
}

// Lotus lists every customer: more than one store page.
func TestLotusListReadsEveryPage(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	const n = 105
	for i := range n {
		_, _, err := h.store.UpsertCustomer(context.Background(), h.org.ID, fmt.Sprintf("c%03d", i), func(*paysync.Customer) (*paysync.Customer, error) {
			return &paysync.Customer{Email: fmt.Sprintf("c%03d@example.com", i)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	r := h.lotusGet("/api/customers/")
	wantStatus(t, r, http.StatusOK)
	var customers []struct {
		CustomerID string `json:"customer_id"`
	}
	if err := json.Unmarshal(r.body, &customers); err != nil {
		t.Fatal(err)
	}
	if len(customers) != n || customers[0].CustomerID != "c000" || customers[n-1].CustomerID != fmt.Sprintf("c%03d", n-1) {
		t.Fatalf("%d customers listed, want %d in order", len(customers), n)
	}
}

func TestLotusTenantIsolation(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		wantStatus(t, h.lotusPost(`{"customer_id":"shared","email":"shared@acme.example","customer_name":"Org A"}`), http.StatusCreated)
		_, other := h.newOrganization("globex")
		notFound := `{"type":"` + lotusClientErrorType + `","detail":"Not found.","title":"not_found"}`
		for _, r := range []response{
			h.request("GET", "/api/customers/shared/", withToken(other), nil),
			h.request("POST", "/api/customers/shared/delete/", withAPIKey(other), nil),
		} {
			wantStatus(t, r, http.StatusNotFound)
			jsonEqual(t, r.body, notFound)
		}
		r := h.request("GET", "/api/customers/", withToken(other), nil)
		wantStatus(t, r, http.StatusOK)
		jsonEqual(t, r.body, `[]`)

		// The same id and email in the other organization are another customer.
		r = h.request("POST", "/api/customers/", withToken(other), strings.NewReader(`{"customer_id":"shared","email":"shared@acme.example","customer_name":"Org B"}`))
		wantStatus(t, r, http.StatusCreated)
		if name := path(h.lotusGet("/api/customers/shared/").json(t), "customer_name"); name != "Org A" {
			t.Fatalf("org A's customer reads %v", name)
		}
	})
}

// A customer written through one dialect reads the same through the
// other: name, email, addresses, currency and provider link.
func TestLotusLagoRoundTrip(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		h.conns.add(h.org.ID, paysync.Stripe, "stripe")

		// Lotus -> Lago.
		wantStatus(t, h.lotusPost(lotusSeedBody), http.StatusCreated)
		lago := h.get("/api/v1/customers/cust_0569173ee6654369")
		wantStatus(t, lago, http.StatusOK)
		c := lago.json(t)["customer"].(map[string]any)
		want := map[string]any{
			"name": "Corporation Inc.", "email": "corporation@outlook.com", "currency": "EUR",
			"address_line1": "Karl Johans gate 22", "address_line2": nil, "city": "Oslo", "zipcode": "0159", "state": nil, "country": "NO",
		}
		for k, v := range want {
			if c[k] != v {
				t.Errorf("lago %s = %#v, want %#v", k, c[k], v)
			}
		}
		shipping, _ := json.Marshal(c["shipping_address"])
		jsonEqual(t, shipping, `{"address_line1":"Bryggen 15","address_line2":"3. etasje","city":"Bergen","zipcode":"5003","state":"Vestland","country":"NO"}`)
		if path(c, "billing_configuration", "payment_provider") != "stripe" || path(c, "billing_configuration", "provider_customer_id") != "cus_NffrFeUfNV2Hib" ||
			path(c, "billing_configuration", "provider_sync_status") != "pending" {
			t.Errorf("lago billing_configuration = %v", c["billing_configuration"])
		}

		// Lago -> Lotus, with Lago's partial update semantics kept intact.
		wantStatus(t, h.post(`{"customer":{"external_id":"lago-7","name":"Hooli","email":"gavin@hooli.example","currency":"GBP",
			"timezone":"Europe/London","address_line1":"1 Silicon Roundabout","city":"London","zipcode":"EC1Y 1AA","country":"GB",
			"shipping_address":{"address_line1":"2 Dock St","city":"Leeds","zipcode":"LS10 1JF","country":"GB","state":"West Yorkshire"},
			"billing_configuration":{"payment_provider":"stripe","provider_customer_id":"cus_hooli"}}}`), http.StatusOK)
		lotus := h.lotusGet("/api/customers/lago-7/")
		wantStatus(t, lotus, http.StatusOK)
		jsonEqual(t, lotus.body, `{"customer_id":"lago-7","email":"gavin@hooli.example","customer_name":"Hooli","invoices":[],
			"total_amount_due":0,"subscriptions":[],"integrations":{"stripe":{"stripe_id":"cus_hooli","has_payment_method":false},"braintree":null},
			"default_currency":{"code":"GBP","name":"Pound Sterling","symbol":"£"},"payment_provider":"stripe","payment_provider_id":"cus_hooli",
			"has_payment_method":false,
			"address":{"city":"London","country":"GB","line1":"1 Silicon Roundabout","line2":null,"postal_code":"EC1Y 1AA","state":null},
			"billing_address":{"city":"London","country":"GB","line1":"1 Silicon Roundabout","line2":null,"postal_code":"EC1Y 1AA","state":null},
			"shipping_address":{"city":"Leeds","country":"GB","line1":"2 Dock St","line2":null,"postal_code":"LS10 1JF","state":"West Yorkshire"},
			"tax_rate":null,"timezone":"Europe/London","tax_providers":[]}`)
		// And it appears in Lotus's list beside the Lotus customer.
		var all []map[string]any
		if err := json.Unmarshal(h.lotusGet("/api/customers/").body, &all); err != nil || len(all) != 2 {
			t.Fatalf("list: %v, %d customers", err, len(all))
		}
	})
}
