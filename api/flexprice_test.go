package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
)

// flexpriceSeed is the create request of Flexprice's documentation
// (../shared/seeds/002) with realistic values in place of "<string>".
const flexpriceSeed = `{
  "address_city": "Bengaluru",
  "address_country": "IN",
  "address_line1": "221B MG Road",
  "address_line2": "Floor 3",
  "address_postal_code": "560001",
  "address_state": "Karnataka",
  "email": "billing@acme-robotics.test",
  "external_id": "acme-robotics-42",
  "metadata": {"crm_id": "0061x00000ABCdE", "plan": "enterprise"},
  "name": "Acme Robotics Pvt Ltd"
}`

// flexpriceDo sends a request authenticated the Flexprice way (x-api-key),
// none when key is "".
func (h *harness) flexpriceDo(method, path, key string, body io.Reader) response {
	h.t.Helper()
	return h.request(method, path, withHeader("x-api-key", key), body)
}

func (h *harness) flexpriceCreate(body string) response {
	h.t.Helper()
	return h.flexpriceDo("POST", "/v1/customers", h.key, strings.NewReader(body))
}

func (h *harness) flexpriceGet(path string) response {
	h.t.Helper()
	return h.flexpriceDo("GET", path, h.key, nil)
}

func (h *harness) flexpriceSearch(filter string) response {
	h.t.Helper()
	return h.flexpriceDo("POST", "/v1/customers/search", h.key, strings.NewReader(filter))
}

// flexpriceListing decodes a ListCustomersResponse into external ids and
// its pagination.
func flexpriceListing(t *testing.T, r response) (ids []string, pagination string) {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	var body struct {
		Items []struct {
			ExternalID string `json:"external_id"`
		} `json:"items"`
		Pagination json.RawMessage `json:"pagination"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Items == nil {
		t.Fatalf("not a list response (items must be an array): %v: %s", err, r.body)
	}
	ids = []string{}
	for _, c := range body.Items {
		ids = append(ids, c.ExternalID)
	}
	return ids, string(body.Pagination)
}

// sdkCustomerKeys are the keys of @flexprice/sdk 2.0.1's CustomerResponse
// that the spec's lacks (both null: paysync has no customer hierarchy).
var sdkCustomerKeys = []string{"parent_customer_id", "parent_customer"}

// wantFlexpriceError checks an error body: Flexprice's ErrorResponse with
// code, status, and details naming exactly fields (none when empty).
func wantFlexpriceError(t *testing.T, r response, status int, code string, fields ...string) map[string]any {
	t.Helper()
	wantStatus(t, r, status)
	b := r.json(t)
	if b["code"] != code || b["http_status_code"] != float64(status) || b["message"] == "" || b["message"] == nil {
		t.Fatalf("error body %s, want code %s and http_status_code %d", r.body, code, status)
	}
	// The envelope @flexprice/sdk 2.0.1 parses, beside the flat shape.
	if b["success"] != false || path(b, "error", "message") != b["message"] || path(b, "error", "internal_error") != b["message"] {
		t.Fatalf("error body %s, want success false and error.message, error.internal_error", r.body)
	}
	details, _ := b["details"].(map[string]any)
	got := make([]string, 0, len(details))
	for k := range details {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(fields)
	if fmt.Sprint(got) != fmt.Sprint(fields) {
		t.Fatalf("details name %v, want %v: %s", got, fields, r.body)
	}
	return b
}

// specSchema returns one schema of Flexprice's OpenAPI file.
func specSchema(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.SharedDir(), "specs", "flexprice-openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	s, ok := spec.Components.Schemas[name]
	if !ok {
		t.Fatalf("schema %s not in the spec", name)
	}
	return s
}

// wantSpecKeys fails when obj has a key the spec's schema does not
// define, or a property of the wrong JSON type.
func wantSpecKeys(t *testing.T, obj map[string]any, schema map[string]any, extra ...string) {
	t.Helper()
	props := schema["properties"].(map[string]any)
	for k, v := range obj {
		p, ok := props[k].(map[string]any)
		if !ok {
			if !slices.Contains(extra, k) {
				t.Errorf("key %q is not in the spec's schema", k)
			}
			continue
		}
		typ, _ := p["type"].(string)
		switch p["$ref"] {
		case "#/components/schemas/types.Status", "#/components/schemas/errors.ErrorCode":
			typ = "string" // string enums
		case "#/components/schemas/types.PaginationResponse":
			typ = "object"
		}
		var ok2 bool
		switch typ {
		case "string":
			_, ok2 = v.(string)
		case "integer":
			f, isNum := v.(float64)
			ok2 = isNum && f == float64(int64(f))
		case "object":
			_, ok2 = v.(map[string]any)
		case "array":
			_, ok2 = v.([]any)
		default:
			ok2 = true
		}
		if !ok2 {
			t.Errorf("key %q = %#v, want a JSON %s", k, v, typ)
		}
	}
}

func TestFlexpriceSeedRequest(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		r := h.flexpriceCreate(flexpriceSeed)
		wantStatus(t, r, http.StatusCreated)
		c := r.json(t)
		id, _ := c["id"].(string)
		if !uuidPattern.MatchString(id) {
			t.Fatalf("id %q is not paysync's customer id (a UUID)", id)
		}
		created, _ := c["created_at"].(string)
		ts, err := time.Parse(time.RFC3339Nano, created)
		if err != nil || !strings.HasSuffix(created, "Z") || time.Since(ts) > time.Minute {
			t.Fatalf("created_at %q, want a recent RFC 3339 UTC time", created)
		}
		updated, _ := c["updated_at"].(string)
		if tu, err := time.Parse(time.RFC3339Nano, updated); err != nil || tu.Before(ts) || tu.Sub(ts) > time.Second {
			t.Fatalf("updated_at %q, want the creation's time", updated)
		}
		want := fmt.Sprintf(`{
			"id": %q, "external_id": "acme-robotics-42", "name": "Acme Robotics Pvt Ltd",
			"email": "billing@acme-robotics.test",
			"address_line1": "221B MG Road", "address_line2": "Floor 3", "address_city": "Bengaluru",
			"address_state": "Karnataka", "address_postal_code": "560001", "address_country": "IN",
			"timezone": "UTC", "metadata": {"crm_id": "0061x00000ABCdE", "plan": "enterprise"},
			"environment_id": %q, "tenant_id": %q, "status": "published",
			"created_at": %q, "updated_at": %q, "created_by": "api_key", "updated_by": "api_key",
			"parent_customer_id": null, "parent_customer": null}`,
			id, "env_"+h.org.ID, h.org.ID, created, updated)
		jsonEqual(t, r.body, want)
		wantSpecKeys(t, c, specSchema(t, "CustomerResponse"), sdkCustomerKeys...)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type %q", ct)
		}

		// Stored as the domain customer every dialect reads.
		s := h.customer("acme-robotics-42")
		wantAddr := paysync.Address{Line1: "221B MG Road", Line2: "Floor 3", City: "Bengaluru", State: "Karnataka", PostalCode: "560001", Country: "IN"}
		if s.ID != id || s.Name != "Acme Robotics Pvt Ltd" || s.Email != "billing@acme-robotics.test" || s.BillingAddress != wantAddr || s.Link != nil {
			t.Fatalf("stored %+v", s)
		}
		if len(s.Metadata) != 2 || s.Metadata[0].Key != "crm_id" || s.Metadata[1].Key != "plan" ||
			s.Metadata[1].Value != "enterprise" || s.Metadata[0].DisplayInInvoice || s.Metadata[1].DisplayInInvoice {
			t.Fatalf("stored metadata %+v, want two entries by key, not shown on invoices", s.Metadata)
		}
		if q := h.queue.got(); len(q) != 0 {
			t.Fatalf("queued %v for a customer with no provider", q)
		}

		// Every read answers the same document.
		for _, p := range []string{"/v1/customers/" + id, "/v1/customers/external/acme-robotics-42", "/v1/customers/lookup/acme-robotics-42"} {
			g := h.flexpriceGet(p)
			wantStatus(t, g, http.StatusOK)
			jsonEqual(t, g.body, string(r.body))
		}
	})
}

func TestFlexpriceAuthentication(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	unauthorized := `{"error":"Unauthorized","message":"Unauthorized","http_status_code":401,"success":false}`
	for name, key := range map[string]string{"missing": "", "wrong": "not-a-key", "other case": strings.ToUpper(h.key)} {
		t.Run(name, func(t *testing.T) {
			for _, req := range []struct{ method, path, body string }{
				{"POST", "/v1/customers", flexpriceSeed},
				{"GET", "/v1/customers", ""},
				{"GET", "/v1/customers/external/acme-robotics-42", ""},
				{"POST", "/v1/customers/search", `{}`},
				{"DELETE", "/v1/customers/some-id", ""},
			} {
				r := h.flexpriceDo(req.method, req.path, key, strings.NewReader(req.body))
				wantStatus(t, r, http.StatusUnauthorized)
				jsonEqual(t, r.body, unauthorized)
			}
		})
	}
	// Lago's Authorization: Bearer is not Flexprice's header.
	r := h.do("POST", "/v1/customers", h.key, strings.NewReader(flexpriceSeed))
	wantStatus(t, r, http.StatusUnauthorized)
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written without a valid key", n)
	}
	// The header name is case-insensitive, as HTTP makes it.
	req, _ := http.NewRequest("POST", h.url+"/v1/customers", strings.NewReader(flexpriceSeed))
	req.Header["X-API-KEY"] = []string{h.key}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("X-API-KEY: status %d, want 201", resp.StatusCode)
	}
}

func TestFlexpriceDuplicateExternalID(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	wantStatus(t, h.flexpriceCreate(flexpriceSeed), http.StatusCreated)
	before := h.customer("acme-robotics-42")

	r := h.flexpriceCreate(`{"external_id": "acme-robotics-42", "name": "Someone Else", "email": "other@example.test"}`)
	b := wantFlexpriceError(t, r, http.StatusConflict, "already_exists", "external_id")
	if path(b, "details", "external_id") != "value_already_exist" {
		t.Fatalf("details %v", b["details"])
	}
	after := h.customer("acme-robotics-42")
	if after.Name != before.Name || after.Email != before.Email || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("a refused duplicate changed the customer: %+v", after)
	}
	if n := h.countCustomers(h.org.ID); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
}

func TestFlexpriceValidation(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes, count
	tests := []struct {
		name, body string
		fields     []string
	}{
		{"missing external_id", `{"name": "Acme"}`, []string{"external_id"}},
		{"blank external_id", `{"external_id": "   "}`, []string{"external_id"}},
		{"null external_id", `{"external_id": null}`, []string{"external_id"}},
		{"numeric external_id", `{"external_id": 42}`, []string{"external_id"}},
		{"email", `{"external_id": "c1", "email": "not-an-email"}`, []string{"email"}},
		{"email list", `{"external_id": "c1", "email": "a@b.test,c@d.test"}`, []string{"email"}},
		{"unknown country", `{"external_id": "c1", "address_country": "XX"}`, []string{"address_country"}},
		{"alpha-3 country", `{"external_id": "c1", "address_country": "IND"}`, []string{"address_country"}},
		{"name too long", `{"external_id": "c1", "name": "` + long(256) + `"}`, []string{"name"}},
		{"line1 too long", `{"external_id": "c1", "address_line1": "` + long(256) + `"}`, []string{"address_line1"}},
		{"line2 too long", `{"external_id": "c1", "address_line2": "` + long(256) + `"}`, []string{"address_line2"}},
		{"city too long", `{"external_id": "c1", "address_city": "` + long(101) + `"}`, []string{"address_city"}},
		{"state too long", `{"external_id": "c1", "address_state": "` + long(101) + `"}`, []string{"address_state"}},
		{"postal code too long", `{"external_id": "c1", "address_postal_code": "` + long(21) + `"}`, []string{"address_postal_code"}},
		{"contact too long", `{"external_id": "c1", "contact": "` + long(21) + `"}`, []string{"contact"}},
		{"timezone", `{"external_id": "c1", "timezone": "Mars/Olympus"}`, []string{"timezone"}},
		{"name of the wrong type", `{"external_id": "c1", "name": ["Acme"]}`, []string{"name"}},
		{"country of the wrong type", `{"external_id": "c1", "address_country": 356}`, []string{"address_country"}},
		{"metadata value not a string", `{"external_id": "c1", "metadata": {"seats": 12, "plan": "pro"}}`, []string{"metadata.seats"}},
		{"metadata value an object", `{"external_id": "c1", "metadata": {"nested": {"a": "b"}}}`, []string{"metadata.nested"}},
		{"metadata a list", `{"external_id": "c1", "metadata": [{"key": "plan", "value": "pro"}]}`, []string{"metadata"}},
		{"metadata empty key", `{"external_id": "c1", "metadata": {"": "x"}}`, []string{"metadata"}},
		{"every problem at once", `{"email": "x@", "address_country": "ZZ", "metadata": {"a": true}}`,
			[]string{"external_id", "email", "address_country", "metadata.a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFlexpriceError(t, h.flexpriceCreate(tt.body), http.StatusBadRequest, "validation_error", tt.fields...)
		})
	}
	jsonEqual(t, h.flexpriceCreate(`{"name": "Acme"}`).body,
		`{"code":"validation_error","message":"validation failed: external_id","http_status_code":400,"details":{"external_id":"value_is_mandatory"},
			"success":false,"error":{"message":"validation failed: external_id","internal_error":"validation failed: external_id"}}`)
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by invalid requests", n)
	}

	// At the limits, and a lower-case country (upper-cased, as every dialect stores it).
	ok := `{"external_id": "c-max", "name": "` + long(255) + `", "address_postal_code": "` + long(20) + `",
		"address_country": "de", "timezone": "Asia/Kolkata", "contact": "+91 80 1234 5678", "metadata": {"k": null}}`
	r := h.flexpriceCreate(ok)
	wantStatus(t, r, http.StatusCreated)
	c := r.json(t)
	if c["address_country"] != "DE" || c["timezone"] != "Asia/Kolkata" || c["contact"] != "+91 80 1234 5678" || path(c, "metadata", "k") != "" {
		t.Fatalf("created %s", r.body)
	}
}

func TestFlexpriceBadRequests(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	for _, body := range []string{``, `{"external_id": "c1",}`, `{"external_id":`, `[1, 2]`, `"c1"`, `{"external_id": "c1"} trailing`, `{'external_id': 'c1'}`} {
		t.Run(body, func(t *testing.T) {
			b := wantFlexpriceError(t, h.flexpriceCreate(body), http.StatusBadRequest, "validation_error")
			if len(b) != 5 {
				t.Fatalf("body %v, want code, message, http_status_code, success and error", b)
			}
		})
	}
	// Over 1 MiB, with a Content-Length and chunked.
	big := `{"external_id": "big", "name": "` + strings.Repeat("a", 1<<20) + `"}`
	for _, body := range []io.Reader{strings.NewReader(big), io.MultiReader(strings.NewReader(big))} {
		r := h.flexpriceDo("POST", "/v1/customers", h.key, body)
		wantStatus(t, r, http.StatusRequestEntityTooLarge)
		jsonEqual(t, r.body, `{"code":"validation_error","message":"the request body is larger than 1 MiB","http_status_code":413,
			"success":false,"error":{"message":"the request body is larger than 1 MiB","internal_error":"the request body is larger than 1 MiB"}}`)
	}
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers written by bad requests", n)
	}
	// Under the limit, unknown keys of the peer's request are ignored.
	ok := `{"external_id": "ok", "skip_onboarding_workflow": true, "integration_entity_mapping": [{"provider": "stripe", "id": "cus_1"}],
		"metadata": {"note": "` + strings.Repeat("a", 1<<19) + `"}}`
	wantStatus(t, h.flexpriceDo("POST", "/v1/customers", h.key, bytes.NewReader([]byte(ok))), http.StatusCreated)
	if l := h.customer("ok").Link; l != nil {
		t.Fatalf("integration_entity_mapping made a provider link: %+v", l)
	}
}

func TestFlexpriceTenantIsolation(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		r := h.flexpriceCreate(`{"external_id": "shared-ext", "name": "Org A customer", "email": "a@acme.test"}`)
		wantStatus(t, r, http.StatusCreated)
		id := r.json(t)["id"].(string)
		_, otherKey := h.newOrganization("globex")

		notFound := `{"code":"not_found","message":"customer not found","http_status_code":404,
			"success":false,"error":{"message":"customer not found","internal_error":"customer not found"}}`
		for _, req := range []struct{ method, path, body string }{
			{"GET", "/v1/customers/" + id, ""},
			{"GET", "/v1/customers/external/shared-ext", ""},
			{"DELETE", "/v1/customers/" + id, ""},
			{"PUT", "/v1/customers/" + id, `{"name": "Hijacked"}`},
			{"PUT", "/v1/customers?external_customer_id=shared-ext", `{"name": "Hijacked"}`},
		} {
			r := h.flexpriceDo(req.method, req.path, otherKey, strings.NewReader(req.body))
			wantStatus(t, r, http.StatusNotFound)
			jsonEqual(t, r.body, notFound)
		}
		ids, pagination := flexpriceListing(t, h.flexpriceDo("POST", "/v1/customers/search", otherKey,
			strings.NewReader(`{"customer_ids": ["`+id+`"], "external_ids": ["shared-ext"]}`)))
		if len(ids) != 0 || pagination != `{"total":0,"limit":50,"offset":0}` {
			t.Fatalf("search across organizations found %v %s", ids, pagination)
		}
		for _, q := range []string{"/v1/customers", "/v1/customers?email=a@acme.test"} {
			if ids, _ := flexpriceListing(t, h.flexpriceDo("GET", q, otherKey, nil)); len(ids) != 0 {
				t.Fatalf("%s listed another organization's customers: %v", q, ids)
			}
		}
		if c := h.customer("shared-ext"); c.Name != "Org A customer" {
			t.Fatalf("another organization changed the customer: %+v", c)
		}

		// The same external id in the other organization is another customer.
		r = h.flexpriceDo("POST", "/v1/customers", otherKey, strings.NewReader(`{"external_id": "shared-ext", "name": "Org B customer"}`))
		wantStatus(t, r, http.StatusCreated)
		if theirs := r.json(t); theirs["id"] == id || theirs["tenant_id"] == h.org.ID {
			t.Fatalf("organizations share a customer: %s", r.body)
		}
	})
}

func TestFlexpriceSearch(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ids := map[string]string{}
	for _, body := range []string{
		`{"external_id": "c1", "email": "shared@acme.test"}`,
		`{"external_id": "c2", "email": "Shared@ACME.test"}`,
		`{"external_id": "c3", "email": "other@acme.test"}`,
		`{"external_id": "c4", "email": "shared@acme.test", "metadata": {"plan": "pro", "region": "eu"}}`,
	} {
		r := h.flexpriceCreate(body)
		wantStatus(t, r, http.StatusCreated)
		c := r.json(t)
		ids[c["external_id"].(string)] = c["id"].(string)
	}
	tests := []struct{ name, filter, ids, pagination string }{
		{"everything, newest first", `{}`, "[c4 c3 c2 c1]", `{"total":4,"limit":50,"offset":0}`},
		{"external_id", `{"external_id": "c3"}`, "[c3]", `{"total":1,"limit":50,"offset":0}`},
		{"external_ids", `{"external_ids": ["c1", "c3", "nobody"]}`, "[c3 c1]", `{"total":2,"limit":50,"offset":0}`},
		{"customer_ids", `{"customer_ids": ["` + ids["c2"] + `", "` + ids["c4"] + `"]}`, "[c4 c2]", `{"total":2,"limit":50,"offset":0}`},
		{"email, any case", `{"email": "SHARED@acme.test"}`, "[c4 c2 c1]", `{"total":3,"limit":50,"offset":0}`},
		{"email nobody has", `{"email": "nobody@acme.test"}`, "[]", `{"total":0,"limit":50,"offset":0}`},
		{"metadata", `{"metadata": {"plan": "pro"}}`, "[c4]", `{"total":1,"limit":50,"offset":0}`},
		{"metadata, every pair", `{"metadata": {"plan": "pro", "region": "us"}}`, "[]", `{"total":0,"limit":50,"offset":0}`},
		{"conditions combine", `{"external_ids": ["c1", "c2", "c3"], "email": "shared@acme.test", "order": "asc"}`, "[c1 c2]", `{"total":2,"limit":50,"offset":0}`},
		{"ids combine", `{"external_id": "c1", "customer_ids": ["` + ids["c2"] + `"]}`, "[]", `{"total":0,"limit":50,"offset":0}`},
		{"page of a filter", `{"email": "shared@acme.test", "limit": 1, "offset": 1}`, "[c2]", `{"total":3,"limit":1,"offset":1}`},
		{"sort ascending", `{"sort": [{"field": "created_at", "direction": "asc"}], "limit": 2}`, "[c1 c2]", `{"total":4,"limit":2,"offset":0}`},
		{"limit 0 is the default", `{"limit": 0, "offset": 3}`, "[c1]", `{"total":4,"limit":50,"offset":3}`},
		{"published", `{"status": "published", "external_id": "c1"}`, "[c1]", `{"total":1,"limit":50,"offset":0}`},
		{"archived: paysync keeps none", `{"status": "archived"}`, "[]", `{"total":0,"limit":50,"offset":0}`},
		{"created since", `{"start_time": "2000-01-01T00:00:00Z", "end_time": "2999-01-01T00:00:00Z", "external_ids": ["c2"]}`, "[c2]", `{"total":1,"limit":50,"offset":0}`},
		{"created before any", `{"end_time": "2000-01-01T00:00:00Z"}`, "[]", `{"total":0,"limit":50,"offset":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pagination := flexpriceListing(t, h.flexpriceSearch(tt.filter))
			if fmt.Sprint(got) != tt.ids {
				t.Errorf("found %v, want %s", got, tt.ids)
			}
			jsonEqual(t, []byte(pagination), tt.pagination)
		})
	}
	r := h.flexpriceSearch(`{"external_id": "c4"}`)
	wantSpecKeys(t, r.json(t), specSchema(t, "ListCustomersResponse"))

	bad := []struct{ name, filter, field string }{
		{"limit too large", `{"limit": 1001}`, "limit"},
		{"negative limit", `{"limit": -1}`, "limit"},
		{"negative offset", `{"offset": -1}`, "offset"},
		{"limit not a number", `{"limit": "many"}`, "limit"},
		{"order", `{"order": "up"}`, "order"},
		{"status", `{"status": "active"}`, "status"},
		{"email", `{"email": "not-an-email"}`, "email"},
		{"start_time", `{"start_time": "yesterday"}`, "start_time"},
		{"time range backwards", `{"start_time": "2025-01-02T00:00:00Z", "end_time": "2025-01-01T00:00:00Z"}`, "end_time"},
		{"ids not a list", `{"customer_ids": "c1"}`, "customer_ids"},
		{"generic filters are refused, not ignored", `{"filters": [{"field": "name", "operator": "eq", "value": {"string": "x"}}]}`, "filters"},
		{"sort by another field is refused", `{"sort": [{"field": "name", "direction": "asc"}]}`, "sort"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			wantFlexpriceError(t, h.flexpriceSearch(tt.filter), http.StatusBadRequest, "validation_error", tt.field)
		})
	}
	wantFlexpriceError(t, h.flexpriceSearch(`{"customer_ids": [`), http.StatusBadRequest, "validation_error")
	wantFlexpriceError(t, h.flexpriceSearch(``), http.StatusBadRequest, "validation_error")
}

func TestFlexpriceListPaging(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	for i := 1; i <= 5; i++ {
		wantStatus(t, h.flexpriceCreate(fmt.Sprintf(`{"external_id": "c%d"}`, i)), http.StatusCreated)
	}
	tests := []struct{ query, ids, pagination string }{
		{"", "[c5 c4 c3 c2 c1]", `{"total":5,"limit":50,"offset":0}`},
		{"?limit=2", "[c5 c4]", `{"total":5,"limit":2,"offset":0}`},
		{"?limit=2&offset=2", "[c3 c2]", `{"total":5,"limit":2,"offset":2}`},
		{"?limit=2&offset=4", "[c1]", `{"total":5,"limit":2,"offset":4}`},
		{"?limit=2&offset=5", "[]", `{"total":5,"limit":2,"offset":5}`},
		{"?order=asc&limit=2&offset=1", "[c2 c3]", `{"total":5,"limit":2,"offset":1}`},
		{"?sort=created_at&order=desc&limit=1", "[c5]", `{"total":5,"limit":1,"offset":0}`},
		{"?limit=0", "[c5 c4 c3 c2 c1]", `{"total":5,"limit":50,"offset":0}`},
		{"?external_ids=c1&external_ids=c4", "[c4 c1]", `{"total":2,"limit":50,"offset":0}`},
		{"?external_id=c2", "[c2]", `{"total":1,"limit":50,"offset":0}`},
	}
	for _, tt := range tests {
		got, pagination := flexpriceListing(t, h.flexpriceGet("/v1/customers"+tt.query))
		if fmt.Sprint(got) != tt.ids {
			t.Errorf("%s: listed %v, want %s", tt.query, got, tt.ids)
		}
		jsonEqual(t, []byte(pagination), tt.pagination)
	}
	for query, field := range map[string]string{"?limit=abc": "limit", "?limit=1001": "limit", "?offset=-2": "offset", "?order=sideways": "order", "?sort=name": "sort"} {
		wantFlexpriceError(t, h.flexpriceGet("/v1/customers"+query), http.StatusBadRequest, "validation_error", field)
	}
}

// Pages that cross the store's 100-row pages, and a scan over several.
func TestFlexpriceListAcrossStorePages(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	for i := 1; i <= 205; i++ {
		ext := fmt.Sprintf("c%03d", i)
		_, _, err := h.store.UpsertCustomer(ctx, h.org.ID, ext, func(*paysync.Customer) (*paysync.Customer, error) {
			c := &paysync.Customer{}
			if i%50 == 0 {
				c.Metadata = []paysync.Metadata{{Key: "tier", Value: "gold"}}
			}
			return c, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	span := func(ids []string) string {
		if len(ids) == 0 {
			return "none"
		}
		return fmt.Sprintf("%d: %s..%s", len(ids), ids[0], ids[len(ids)-1])
	}
	tests := []struct{ query, span, pagination string }{
		{"?order=asc&limit=10&offset=95", "10: c096..c105", `{"total":205,"limit":10,"offset":95}`},
		{"?order=asc&limit=1000", "205: c001..c205", `{"total":205,"limit":1000,"offset":0}`},
		{"?limit=150", "150: c205..c056", `{"total":205,"limit":150,"offset":0}`},
		{"?limit=10&offset=200", "5: c005..c001", `{"total":205,"limit":10,"offset":200}`},
		{"?limit=10&offset=205", "none", `{"total":205,"limit":10,"offset":205}`},
	}
	for _, tt := range tests {
		ids, pagination := flexpriceListing(t, h.flexpriceGet("/v1/customers"+tt.query))
		if got := span(ids); got != tt.span {
			t.Errorf("%s: listed %s, want %s", tt.query, got, tt.span)
		}
		jsonEqual(t, []byte(pagination), tt.pagination)
	}
	ids, pagination := flexpriceListing(t, h.flexpriceSearch(`{"metadata": {"tier": "gold"}, "order": "asc"}`))
	if fmt.Sprint(ids) != "[c050 c100 c150 c200]" {
		t.Fatalf("metadata search over several store pages found %v", ids)
	}
	jsonEqual(t, []byte(pagination), `{"total":4,"limit":50,"offset":0}`)
}

func TestFlexpriceDelete(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.flexpriceCreate(`{"external_id": "gone", "name": "Soon Gone"}`)
	wantStatus(t, r, http.StatusCreated)
	id := r.json(t)["id"].(string)

	d := h.flexpriceDo("DELETE", "/v1/customers/"+id, h.key, nil)
	wantStatus(t, d, http.StatusNoContent)
	if len(d.body) != 0 {
		t.Fatalf("204 with a body: %s", d.body)
	}
	wantFlexpriceError(t, h.flexpriceGet("/v1/customers/"+id), http.StatusNotFound, "not_found")
	wantFlexpriceError(t, h.flexpriceGet("/v1/customers/external/gone"), http.StatusNotFound, "not_found")
	wantFlexpriceError(t, h.flexpriceDo("DELETE", "/v1/customers/"+id, h.key, nil), http.StatusNotFound, "not_found")
	if n := h.countCustomers(h.org.ID); n != 0 {
		t.Fatalf("%d customers after delete", n)
	}
	// Deleted, the external id is free again.
	wantStatus(t, h.flexpriceCreate(`{"external_id": "gone"}`), http.StatusCreated)
}

func TestFlexpriceUpdate(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.flexpriceCreate(flexpriceSeed)
	wantStatus(t, r, http.StatusCreated)
	id := r.json(t)["id"].(string)

	// Only the keys given change; null leaves a value alone.
	u := h.flexpriceDo("PUT", "/v1/customers/"+id, h.key, strings.NewReader(
		`{"name": "Acme Robotics Ltd", "address_city": null, "metadata": {"plan": "growth"}}`))
	wantStatus(t, u, http.StatusOK)
	c := u.json(t)
	if c["name"] != "Acme Robotics Ltd" || c["email"] != "billing@acme-robotics.test" || c["address_city"] != "Bengaluru" ||
		fmt.Sprint(c["metadata"]) != "map[plan:growth]" || c["id"] != id {
		t.Fatalf("updated %s", u.body)
	}
	if c["updated_at"] == c["created_at"] {
		t.Fatalf("updated_at did not move: %s", u.body)
	}
	// By external id, in the query string (the spec's form).
	u = h.flexpriceDo("PUT", "/v1/customers?external_customer_id=acme-robotics-42", h.key, strings.NewReader(`{"email": "ap@acme-robotics.test"}`))
	wantStatus(t, u, http.StatusOK)
	if got := h.customer("acme-robotics-42"); got.Email != "ap@acme-robotics.test" || got.Name != "Acme Robotics Ltd" {
		t.Fatalf("stored %+v", got)
	}
	u = h.flexpriceDo("PUT", "/v1/customers?id="+id, h.key, strings.NewReader(`{"external_id": "acme-robotics-42", "address_state": "KA"}`))
	wantStatus(t, u, http.StatusOK)

	wantStatus(t, h.flexpriceCreate(`{"external_id": "other"}`), http.StatusCreated)
	before := h.customer("acme-robotics-42")
	bad := []struct{ name, path, body string }{
		{"external id changed", "/v1/customers/" + id, `{"external_id": "acme-renamed"}`},
		{"bad email", "/v1/customers/" + id, `{"email": "nope"}`},
		{"bad country", "/v1/customers/" + id, `{"address_country": "Atlantis"}`},
		{"no identifier", "/v1/customers", `{"name": "x"}`},
		{"identifiers disagree", "/v1/customers?id=" + id + "&external_customer_id=other", `{"name": "x"}`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := h.flexpriceDo("PUT", tt.path, h.key, strings.NewReader(tt.body))
			wantStatus(t, r, http.StatusBadRequest)
		})
	}
	wantFlexpriceError(t, h.flexpriceDo("PUT", "/v1/customers/no-such-id", h.key, strings.NewReader(`{"name": "x"}`)), http.StatusNotFound, "not_found")
	if after := h.customer("acme-robotics-42"); !after.UpdatedAt.Equal(before.UpdatedAt) || after.Email != before.Email {
		t.Fatalf("a refused update changed the customer: %+v", after)
	}
	if q := h.queue.got(); len(q) != 0 {
		t.Fatalf("updates queued provider work: %v", q)
	}
}

// A connection flagged sync_new_customers takes every new customer: the
// Service links it and the queue gets the link's first generation.
func TestFlexpriceSyncNewCustomers(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.mu.Lock()
	h.conns.conns = append(h.conns.conns,
		paysync.Connection{OrganizationID: h.org.ID, Provider: paysync.GoCardless, Code: "gc-manual"},
		paysync.Connection{OrganizationID: h.org.ID, Provider: paysync.Stripe, Code: "stripe-auto", SyncNewCustomers: true})
	h.conns.mu.Unlock()

	wantStatus(t, h.flexpriceCreate(flexpriceSeed), http.StatusCreated)
	c := h.customer("acme-robotics-42")
	l := c.Link
	if l == nil || l.Provider != paysync.Stripe || l.ConnectionCode != "stripe-auto" || !l.SyncWithProvider ||
		l.State != paysync.SyncPending || l.Generation != 1 || l.LinkOnly {
		t.Fatalf("link %+v, want a pending create at stripe-auto", l)
	}
	if q := h.queue.got(); len(q) != 1 || q[0] != (paysync.LinkRef{ID: l.ID, Generation: 1}) {
		t.Fatalf("queued %v, want the link's generation 1", q)
	}
	if s := h.syncer.got(); len(s) != 0 {
		t.Fatalf("synced inline %v: Flexprice requests never ask for it", s)
	}
	// The response stays the spec's customer: the link is not part of it.
	g := h.flexpriceGet("/v1/customers/" + c.ID)
	wantStatus(t, g, http.StatusOK)
	wantSpecKeys(t, g.json(t), specSchema(t, "CustomerResponse"), sdkCustomerKeys...)
}

// A customer written by one dialect reads the same through the other.
func TestFlexpriceAndLagoShareCustomers(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))

	// Lago writes, Flexprice reads.
	wantStatus(t, h.post(`{"customer": {"external_id": "from-lago", "name": "Gavin Belson", "email": "gavin@hooli.test",
		"phone": "+1 650 555 0100", "address_line1": "5230 Penfield Ave", "address_line2": "Suite 9", "city": "Woodland Hills",
		"state": "CA", "zipcode": "91364", "country": "US", "timezone": "America/Los_Angeles",
		"metadata": [{"key": "Purchase Order", "value": "123456789", "display_in_invoice": true}]}}`), http.StatusOK)
	lago := h.get("/api/v1/customers/from-lago").json(t)["customer"].(map[string]any)
	r := h.flexpriceGet("/v1/customers/external/from-lago")
	wantStatus(t, r, http.StatusOK)
	fp := r.json(t)
	want := map[string]any{
		"id": lago["lago_id"], "external_id": "from-lago", "name": "Gavin Belson", "email": "gavin@hooli.test",
		"contact": "+1 650 555 0100", "address_line1": "5230 Penfield Ave", "address_line2": "Suite 9",
		"address_city": "Woodland Hills", "address_state": "CA", "address_postal_code": "91364", "address_country": "US",
		"timezone": "America/Los_Angeles", "metadata": map[string]any{"Purchase Order": "123456789"},
	}
	for k, v := range want {
		if fmt.Sprint(fp[k]) != fmt.Sprint(v) {
			t.Errorf("flexprice %s = %#v, want %#v (from Lago)", k, fp[k], v)
		}
	}
	sameInstant(t, "created_at", fp["created_at"], lago["created_at"])
	sameInstant(t, "updated_at", fp["updated_at"], lago["updated_at"])

	// Flexprice writes, Lago reads.
	r = h.flexpriceCreate(flexpriceSeed)
	wantStatus(t, r, http.StatusCreated)
	fp = r.json(t)
	g := h.get("/api/v1/customers/acme-robotics-42")
	wantStatus(t, g, http.StatusOK)
	lago = g.json(t)["customer"].(map[string]any)
	want = map[string]any{
		"lago_id": fp["id"], "external_id": "acme-robotics-42", "name": "Acme Robotics Pvt Ltd", "email": "billing@acme-robotics.test",
		"address_line1": "221B MG Road", "address_line2": "Floor 3", "city": "Bengaluru", "state": "Karnataka",
		"zipcode": "560001", "country": "IN", "phone": nil, "timezone": nil,
	}
	for k, v := range want {
		if fmt.Sprint(lago[k]) != fmt.Sprint(v) {
			t.Errorf("lago %s = %#v, want %#v (from Flexprice)", k, lago[k], v)
		}
	}
	md, _ := lago["metadata"].([]any)
	var pairs []string
	for _, m := range md {
		m := m.(map[string]any)
		pairs = append(pairs, fmt.Sprintf("%v=%v/%v", m["key"], m["value"], m["display_in_invoice"]))
	}
	if fmt.Sprint(pairs) != "[crm_id=0061x00000ABCdE/false plan=enterprise/false]" {
		t.Fatalf("lago metadata %v", pairs)
	}
	sameInstant(t, "created_at", lago["created_at"], fp["created_at"])

	// A Flexprice update keeps what only Lago knows about a surviving key.
	wantStatus(t, h.post(`{"customer": {"external_id": "from-lago", "metadata": [
		{"key": "Purchase Order", "value": "123456789", "display_in_invoice": true}, {"key": "cost_center", "value": "R&D"}]}}`), http.StatusOK)
	u := h.flexpriceDo("PUT", "/v1/customers?external_customer_id=from-lago", h.key, strings.NewReader(`{"metadata": {"Purchase Order": "987654321"}}`))
	wantStatus(t, u, http.StatusOK)
	md = h.get("/api/v1/customers/from-lago").json(t)["customer"].(map[string]any)["metadata"].([]any)
	if len(md) != 1 || path(md[0], "value") != "987654321" || path(md[0], "display_in_invoice") != true {
		t.Fatalf("lago metadata after a Flexprice update: %v", md)
	}
}

// sameInstant compares two timestamps to the second (Lago writes seconds,
// Flexprice the fraction too).
func sameInstant(t *testing.T, name string, a, b any) {
	t.Helper()
	ta, errA := time.Parse(time.RFC3339Nano, fmt.Sprint(a))
	tb, errB := time.Parse(time.RFC3339Nano, fmt.Sprint(b))
	if errA != nil || errB != nil || !ta.Truncate(time.Second).Equal(tb.Truncate(time.Second)) {
		t.Errorf("%s: %v and %v are not the same instant", name, a, b)
	}
}

func TestFlexpriceErrorsMatchSpec(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	schema := specSchema(t, "errors.ErrorResponse")
	// details is the peer's addition (internal/errors.ErrorResponse);
	// success and error the envelope @flexprice/sdk 2.0.1 parses.
	for _, r := range []response{
		h.flexpriceCreate(`{}`),
		h.flexpriceGet("/v1/customers/nobody"),
		h.flexpriceCreate(`{`),
	} {
		wantSpecKeys(t, r.json(t), schema, "details", "success", "error")
	}
	// An unknown route answers before authentication, as gin's NoRoute does.
	r := h.flexpriceDo("GET", "/v1/invoices", "", nil)
	wantStatus(t, r, http.StatusNotFound)
}
