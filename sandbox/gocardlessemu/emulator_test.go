package gocardlessemu_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/sandbox/gocardlessemu"
)

const token = "sandbox_test_token"

// api is a raw GoCardless HTTP client for the emulator under test.
type api struct {
	t   *testing.T
	url string
	emu *gocardlessemu.Emulator
}

func newAPI(t *testing.T) *api {
	t.Helper()
	emu := gocardlessemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &api{t: t, url: srv.URL, emu: emu}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
}

// call sends one request; headers override the defaults (empty value removes one).
func (a *api) call(method, path, body string, headers map[string]string) response {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("GoCardless-Version", "2015-07-06")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := response{status: resp.StatusCode, header: resp.Header}
	data, _ := io.ReadAll(resp.Body)
	if len(data) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &out.body); err != nil {
			a.t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, data)
		}
	}
	return out
}

// object walks a decoded JSON value along keys.
func object(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: %v is not an object", k, v)
		}
		v = m[k]
	}
	return v
}

// apiError asserts a GoCardless error answer and returns its first reason.
func apiError(t *testing.T, r response, status int, typ string) (reason string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (%v)", r.status, status, r.body)
	}
	if got := object(t, r.body, "error", "type"); got != typ {
		t.Fatalf("error.type %v, want %s (%v)", got, typ, r.body)
	}
	if got := object(t, r.body, "error", "code"); got != float64(status) {
		t.Fatalf("error.code %v, want %d", got, status)
	}
	for _, k := range []string{"message", "request_id", "documentation_url"} {
		if s, _ := object(t, r.body, "error", k).(string); s == "" {
			t.Fatalf("error.%s is empty: %v", k, r.body)
		}
	}
	errs, _ := object(t, r.body, "error", "errors").([]any)
	if len(errs) == 0 {
		t.Fatalf("error.errors is empty: %v", r.body)
	}
	reason, _ = errs[0].(map[string]any)["reason"].(string)
	return reason
}

func TestAuthAndVersionErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		reason  string
	}{
		{"no authorization", map[string]string{"Authorization": ""}, 401, "missing_authorization_header"},
		{"live token", map[string]string{"Authorization": "Bearer live_abc"}, 401, "access_token_not_found"},
		{"not bearer", map[string]string{"Authorization": "Basic " + token}, 401, "access_token_not_found"},
		{"no version", map[string]string{"GoCardless-Version": ""}, 400, "missing_version_header"},
		{"unknown version", map[string]string{"GoCardless-Version": "2099-01-01"}, 400, "version_not_found"},
	} {
		r := a.call("GET", "/customers", "", tc.headers)
		if got := apiError(t, r, tc.status, "invalid_api_usage"); got != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.reason)
		}
	}
	if r := a.call("GET", "/nowhere", "", nil); apiError(t, r, 404, "invalid_api_usage") != "path_not_found" {
		t.Errorf("unknown path: %v", r.body)
	}
}

func TestCreateAndGetCustomer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.call("POST", "/customers", `{"customers":{"email":"ada@example.com","given_name":"Ada","family_name":"Lovelace",
		"country_code":"FR","metadata":{"paysync_customer_id":"c1"}}}`, nil)
	if r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	c := object(t, r.body, "customers").(map[string]any)
	id, _ := c["id"].(string)
	if !strings.HasPrefix(id, "CU") || len(id) != 14 || strings.ToUpper(id) != id {
		t.Errorf("id %q is not in GoCardless's style", id)
	}
	if _, err := time.Parse(time.RFC3339, c["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	// Unset fields are present as null; language follows the country.
	if v, ok := c["company_name"]; !ok || v != nil {
		t.Errorf("company_name = %v (present %v), want null", v, ok)
	}
	if c["language"] != "fr" {
		t.Errorf("language %v, want fr from country_code FR", c["language"])
	}
	got := a.call("GET", "/customers/"+id, "", nil)
	if got.status != 200 || object(t, got.body, "customers", "email") != "ada@example.com" ||
		object(t, got.body, "customers", "metadata", "paysync_customer_id") != "c1" {
		t.Fatalf("get: %d %v", got.status, got.body)
	}
	if r := a.call("GET", "/customers/CU0000NOTHERE", "", nil); apiError(t, r, 404, "invalid_api_usage") != "resource_not_found" {
		t.Errorf("unknown customer: %v", r.body)
	}
}

func TestIdempotentCreationConflict(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := `{"customers":{"company_name":"Acme"}}`
	key := map[string]string{"Idempotency-Key": "k-1"}
	first := a.call("POST", "/customers", body, key)
	if first.status != 201 {
		t.Fatalf("create: %d %v", first.status, first.body)
	}
	id := object(t, first.body, "customers", "id")
	again := a.call("POST", "/customers", body, key)
	if reason := apiError(t, again, 409, "invalid_state"); reason != "idempotent_creation_conflict" {
		t.Fatalf("reason %q", reason)
	}
	detail := object(t, again.body, "error", "errors").([]any)[0]
	if got := object(t, detail, "links", "conflicting_resource_id"); got != id {
		t.Errorf("conflicting_resource_id %v, want %v", got, id)
	}
	if n := a.emu.CustomerCount(); n != 1 {
		t.Errorf("CustomerCount %d, want 1", n)
	}
	// The key is scoped to the endpoint, and another key creates another customer.
	if r := a.call("POST", "/billing_requests", `{"billing_requests":{"mandate_request":{"scheme":"bacs"},"links":{"customer":"`+id.(string)+`"}}}`, key); r.status != 201 {
		t.Errorf("same key on another endpoint: %d %v", r.status, r.body)
	}
	if r := a.call("POST", "/customers", body, map[string]string{"Idempotency-Key": "k-2"}); r.status != 201 || a.emu.CustomerCount() != 2 {
		t.Errorf("another key: %d, count %d", r.status, a.emu.CustomerCount())
	}
}

func TestCustomerValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"no name", `{"customers":{"email":"a@example.com"}}`, "given_name"},
		{"bad email", `{"customers":{"company_name":"Acme","email":"nope"}}`, "email"},
		{"four metadata keys", `{"customers":{"company_name":"Acme","metadata":{"a":"1","b":"2","c":"3","d":"4"}}}`, "metadata"},
		{"long metadata value", `{"customers":{"company_name":"Acme","metadata":{"a":"` + strings.Repeat("x", 501) + `"}}}`, "metadata"},
		{"lower-case country", `{"customers":{"company_name":"Acme","country_code":"fr"}}`, "country_code"},
	} {
		r := a.call("POST", "/customers", tc.body, nil)
		apiError(t, r, 422, "validation_failed")
		first := object(t, r.body, "error", "errors").([]any)[0]
		if got := object(t, first, "field"); got != tc.field {
			t.Errorf("%s: field %v, want %s", tc.name, got, tc.field)
		}
		if got, _ := object(t, first, "request_pointer").(string); got != "/customers/"+tc.field {
			t.Errorf("%s: request_pointer %q", tc.name, got)
		}
	}
	for _, body := range []string{`{"customer":{"company_name":"Acme"}}`, `{"customers":{"company_name":"Acme","postcode":"1"}}`, `not json`} {
		r := a.call("POST", "/customers", body, nil)
		if reason := apiError(t, r, 400, "invalid_api_usage"); reason != "invalid_document_structure" {
			t.Errorf("%s: reason %q", body, reason)
		}
	}
	if a.emu.CustomerCount() != 0 {
		t.Errorf("invalid requests created %d customers", a.emu.CustomerCount())
	}
}

func TestCustomerPagination(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var ids []string
	for range 5 {
		r := a.call("POST", "/customers", `{"customers":{"company_name":"Acme"}}`, nil)
		ids = append(ids, object(t, r.body, "customers", "id").(string))
	}
	// Newest first, two per page, following meta.cursors.after to the end.
	var seen []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		q := url.Values{"limit": {"2"}}
		if after != "" {
			q.Set("after", after)
		}
		r := a.call("GET", "/customers?"+q.Encode(), "", nil)
		if r.status != 200 || object(t, r.body, "meta", "limit") != float64(2) {
			t.Fatalf("list: %d %v", r.status, r.body)
		}
		for _, c := range object(t, r.body, "customers").([]any) {
			seen = append(seen, object(t, c, "id").(string))
		}
		next, _ := object(t, r.body, "meta", "cursors", "after").(string)
		if next == "" {
			break
		}
		after = next
	}
	if len(seen) != 5 {
		t.Fatalf("saw %v, want 5 customers", seen)
	}
	for i, id := range seen {
		if id != ids[len(ids)-1-i] {
			t.Fatalf("order %v, want newest first of %v", seen, ids)
		}
	}
	// before walks back: the page before the oldest is the two next to it.
	r := a.call("GET", "/customers?limit=2&before="+ids[0], "", nil)
	page := object(t, r.body, "customers").([]any)
	if len(page) != 2 || object(t, page[0], "id") != ids[2] || object(t, page[1], "id") != ids[1] {
		t.Errorf("before page: %v", page)
	}
	if r := a.call("GET", "/customers?limit=501", "", nil); r.status != 422 {
		t.Errorf("limit 501: %d", r.status)
	}
}

func TestMandatesFilterAndSandboxHelpers(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	cu := object(t, a.call("POST", "/customers", `{"customers":{"company_name":"Acme","country_code":"GB"}}`, nil).body, "customers", "id").(string)
	other := object(t, a.call("POST", "/customers", `{"customers":{"company_name":"Other"}}`, nil).body, "customers", "id").(string)
	md, err := a.emu.AttachPaymentMethod(cu)
	if err != nil || !strings.HasPrefix(md, "MD") {
		t.Fatalf("AttachPaymentMethod: %q, %v", md, err)
	}
	// Over HTTP too, with a chosen status.
	r := a.call("POST", "/_sandbox/customers/"+cu+"/mandates", `{"status":"pending_submission"}`, nil)
	if r.status != 201 || object(t, r.body, "mandates", "status") != "pending_submission" {
		t.Fatalf("sandbox attach: %d %v", r.status, r.body)
	}
	if _, err := a.emu.AttachPaymentMethod(other); err != nil {
		t.Fatal(err)
	}

	list := func(q string) []any {
		t.Helper()
		r := a.call("GET", "/mandates?"+q, "", nil)
		if r.status != 200 {
			t.Fatalf("list %s: %d %v", q, r.status, r.body)
		}
		return object(t, r.body, "mandates").([]any)
	}
	if got := list("customer=" + cu); len(got) != 2 {
		t.Errorf("customer filter: %d mandates, want 2", len(got))
	}
	active := list("customer=" + cu + "&status=active")
	if len(active) != 1 || object(t, active[0], "id") != md || object(t, active[0], "scheme") != "bacs" ||
		object(t, active[0], "links", "customer") != cu {
		t.Errorf("status filter: %v", active)
	}
	if got := list("customer=" + cu + "&status=" + url.QueryEscape("active,pending_submission")); len(got) != 2 {
		t.Errorf("status comma list: %d mandates, want 2", len(got))
	}
	if r := a.call("GET", "/mandates?status=bogus", "", nil); r.status != 422 {
		t.Errorf("unknown status: %d", r.status)
	}
	if got := a.call("GET", "/mandates/"+md, "", nil); object(t, got.body, "mandates", "id") != md {
		t.Errorf("get mandate: %v", got.body)
	}

	if err := a.emu.CancelMandates(cu); err != nil {
		t.Fatal(err)
	}
	if got := list("customer=" + cu + "&status=pending_customer_approval,pending_submission,submitted,active"); len(got) != 0 {
		t.Errorf("after CancelMandates: %v", got)
	}
	if got := list("customer=" + other + "&status=active"); len(got) != 1 {
		t.Errorf("another customer's mandate was touched: %v", got)
	}
	if err := a.emu.CancelMandates("CU0000NOTHERE"); err == nil {
		t.Error("CancelMandates of an unknown customer succeeded")
	}
}

func TestRemovedCustomer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	cu := object(t, a.call("POST", "/customers", `{"customers":{"company_name":"Acme"}}`, nil).body, "customers", "id").(string)
	if _, err := a.emu.AttachPaymentMethod(cu); err != nil {
		t.Fatal(err)
	}
	if r := a.call("DELETE", "/customers/"+cu, "", nil); r.status != 200 {
		t.Fatalf("remove: %d %v", r.status, r.body)
	}
	if r := a.call("GET", "/customers/"+cu, "", nil); r.status != 404 {
		t.Errorf("removed customer loads: %d", r.status)
	}
	if r := a.call("GET", "/customers", "", nil); len(object(t, r.body, "customers").([]any)) != 0 {
		t.Errorf("removed customer is listed: %v", r.body)
	}
	if r := a.call("GET", "/mandates?customer="+cu+"&status=active", "", nil); len(object(t, r.body, "mandates").([]any)) != 0 {
		t.Errorf("removed customer keeps an active mandate: %v", r.body)
	}
}

func TestFaultsSpeakGoCardless(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if r := a.call("PUT", "/_faults", `{"fail_next":1,"fail":"rate_limited","retry_after":"3s"}`, nil); r.status != 200 {
		t.Fatalf("set faults: %d", r.status)
	}
	r := a.call("GET", "/customers", "", nil)
	if reason := apiError(t, r, 429, "invalid_api_usage"); reason != "rate_limit_exceeded" {
		t.Errorf("reason %q", reason)
	}
	if r.header.Get("RateLimit-Limit") == "" || r.header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("rate-limit headers: %v", r.header)
	}
	reset, err := http.ParseTime(r.header.Get("RateLimit-Reset"))
	if err != nil {
		t.Fatalf("RateLimit-Reset %q is not an HTTP date: %v", r.header.Get("RateLimit-Reset"), err)
	}
	// Both headers have second precision: the reset is 3 s after the
	// response's Date, rounded up.
	date, err := http.ParseTime(r.header.Get("Date"))
	if err != nil {
		t.Fatal(err)
	}
	if wait := reset.Sub(date); wait < 3*time.Second || wait > 4*time.Second {
		t.Errorf("RateLimit-Reset is %s after Date, want 3s rounded up", wait)
	}

	a.emu.Faults.Reset()
	if r := a.call("PUT", "/_faults", `{"fail_next":1,"fail":"server_error","status":503}`, nil); r.status != 200 {
		t.Fatal("set faults")
	}
	if reason := apiError(t, a.call("GET", "/customers", "", nil), 503, "gocardless"); reason != "internal_server_error" {
		t.Errorf("reason %q", reason)
	}
	if r := a.call("GET", "/customers", "", nil); r.status != 200 {
		t.Errorf("after the planned fault: %d", r.status)
	}
}

func TestBillingRequestFlow(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	cu := object(t, a.call("POST", "/customers", `{"customers":{"company_name":"Acme"}}`, nil).body, "customers", "id").(string)
	r := a.call("POST", "/billing_requests", `{"billing_requests":{"mandate_request":{"scheme":"sepa_core","currency":"EUR"},"links":{"customer":"`+cu+`"}}}`, nil)
	if r.status != 201 {
		t.Fatalf("billing request: %d %v", r.status, r.body)
	}
	brq := object(t, r.body, "billing_requests", "id").(string)
	if !strings.HasPrefix(brq, "BRQ") || object(t, r.body, "billing_requests", "status") != "pending" ||
		object(t, r.body, "billing_requests", "links", "customer") != cu {
		t.Fatalf("billing request: %v", r.body)
	}
	if r := a.call("POST", "/billing_requests", `{"billing_requests":{"mandate_request":{"scheme":"nope"}}}`, nil); r.status != 422 {
		t.Errorf("unknown scheme: %d", r.status)
	}

	done := "https://merchant.example/done"
	r = a.call("POST", "/billing_request_flows", `{"billing_request_flows":{"redirect_uri":"`+done+`","exit_uri":"https://merchant.example/exit","links":{"billing_request":"`+brq+`"}}}`, nil)
	if r.status != 201 {
		t.Fatalf("flow: %d %v", r.status, r.body)
	}
	authURL := object(t, r.body, "billing_request_flows", "authorisation_url").(string)
	if !strings.HasPrefix(authURL, a.url+"/_sandbox/billing_request_flows/BRF") {
		t.Fatalf("authorisation_url %q does not point at the emulator", authURL)
	}

	page, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), brq) || !strings.Contains(string(html), "<form") {
		t.Fatalf("payer page: %d\n%s", page.StatusCode, html)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Post(authURL, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != done {
		t.Fatalf("authorising: %d to %q, want 303 to %s", resp.StatusCode, resp.Header.Get("Location"), done)
	}
	got := a.call("GET", "/billing_requests/"+brq, "", nil)
	if object(t, got.body, "billing_requests", "status") != "fulfilled" {
		t.Errorf("billing request after authorising: %v", got.body)
	}
	mandates := object(t, a.call("GET", "/mandates?customer="+cu, "", nil).body, "mandates").([]any)
	if len(mandates) != 1 || object(t, mandates[0], "scheme") != "sepa_core" {
		t.Errorf("mandates after authorising: %v", mandates)
	}
	if r := a.call("POST", "/billing_request_flows", `{"billing_request_flows":{"links":{"billing_request":"`+brq+`"}}}`, nil); r.status != 422 {
		t.Errorf("flow for a fulfilled billing request: %d", r.status)
	}
}

func TestAuthorisationURLBase(t *testing.T) {
	t.Parallel()
	emu := gocardlessemu.New()
	// An in-process request, as an http.RoundTripper calling the handler
	// sends it: no Host, the scheme and host only in the URL.
	do := func(path, body string) map[string]any {
		t.Helper()
		req := httptest.NewRequest("POST", "https://api-sandbox.gocardless.com"+path, strings.NewReader(body))
		req.Host = ""
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("GoCardless-Version", "2015-07-06")
		w := httptest.NewRecorder()
		emu.ServeHTTP(w, req)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 201 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		return out
	}
	cu := object(t, do("/customers", `{"customers":{"company_name":"Acme"}}`), "customers", "id").(string)
	flowURL := func() string {
		brq := object(t, do("/billing_requests", `{"billing_requests":{"mandate_request":{},"links":{"customer":"`+cu+`"}}}`), "billing_requests", "id").(string)
		return object(t, do("/billing_request_flows", `{"billing_request_flows":{"links":{"billing_request":"`+brq+`"}}}`), "billing_request_flows", "authorisation_url").(string)
	}
	if got := flowURL(); !strings.HasPrefix(got, "https://api-sandbox.gocardless.com/_sandbox/billing_request_flows/BRF") {
		t.Errorf("in-process authorisation_url %q", got)
	}
	emu.PublicURL = "https://paysync.example/sandbox/gocardless/"
	if got := flowURL(); !strings.HasPrefix(got, "https://paysync.example/sandbox/gocardless/_sandbox/billing_request_flows/BRF") {
		t.Errorf("authorisation_url %q does not use PublicURL", got)
	}
}
