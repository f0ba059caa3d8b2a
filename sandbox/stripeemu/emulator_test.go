package stripeemu_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

type client struct {
	t    *testing.T
	base string
	key  string
}

func start(t *testing.T) (*stripeemu.Emulator, *client) {
	t.Helper()
	emu := stripeemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, &client{t: t, base: srv.URL, key: "sk_test_unit"}
}

// do sends a form-encoded request and decodes the JSON answer.
func (c *client) do(method, path string, form url.Values, header ...string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var body *strings.Reader
	target := c.base + path
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
		if len(form) > 0 {
			target += "?" + form.Encode()
		}
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, out
}

func errorOf(body map[string]any) map[string]any {
	e, _ := body["error"].(map[string]any)
	return e
}

func ids(body map[string]any) []string {
	var out []string
	data, _ := body["data"].([]any)
	for _, d := range data {
		out = append(out, d.(map[string]any)["id"].(string))
	}
	return out
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	form := url.Values{"email": {"a@example.com"}, "metadata[k]": {"v"}}
	status, h, first := c.do("POST", "/v1/customers", form, "Idempotency-Key", "k1")
	if status != 200 || h.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("first: %d %v", status, first)
	}
	status, h, again := c.do("POST", "/v1/customers", form, "Idempotency-Key", "k1")
	if status != 200 || h.Get("Idempotent-Replayed") != "true" || again["id"] != first["id"] {
		t.Errorf("replay: %d, replayed %q, id %v want %v", status, h.Get("Idempotent-Replayed"), again["id"], first["id"])
	}
	status, _, body := c.do("POST", "/v1/customers", url.Values{"email": {"b@example.com"}}, "Idempotency-Key", "k1")
	if status != 400 || errorOf(body)["type"] != "idempotency_error" {
		t.Errorf("other parameters: %d %v", status, body)
	}
	status, _, body = c.do("POST", "/v1/checkout/sessions", url.Values{"mode": {"setup"}}, "Idempotency-Key", "k1")
	if status != 400 || errorOf(body)["type"] != "idempotency_error" {
		t.Errorf("other endpoint: %d %v", status, body)
	}
	// A rejected request is not remembered: the key stays usable.
	status, _, _ = c.do("POST", "/v1/customers", url.Values{"email": {"bad"}}, "Idempotency-Key", "k2")
	if status != 400 {
		t.Fatalf("invalid email accepted: %d", status)
	}
	if status, _, _ = c.do("POST", "/v1/customers", url.Values{"email": {"c@example.com"}}, "Idempotency-Key", "k2"); status != 200 {
		t.Errorf("key reused after a rejected request: %d", status)
	}
	if n := emu.CustomerCount(); n != 2 {
		t.Errorf("CustomerCount = %d, want 2", n)
	}
}

// TestIdempotencyServerErrors: Stripe saves the 500 of a request that began
// executing under its key, and replays it though the work may be done; a
// fault in front of the API saves nothing.
func TestIdempotencyServerErrors(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	form := url.Values{"email": {"a@example.com"}}
	emu.FailNextAfterRun(1)
	status, h, body := c.do("POST", "/v1/customers", form, "Idempotency-Key", "k500")
	if status != 500 || errorOf(body)["type"] != "api_error" || h.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("failed run: %d %v", status, body)
	}
	if n := emu.CustomerCount(); n != 1 {
		t.Errorf("CustomerCount = %d after a 500 from a run handler, want 1 (the work stands)", n)
	}
	status, h, body = c.do("POST", "/v1/customers", form, "Idempotency-Key", "k500")
	if status != 500 || errorOf(body)["type"] != "api_error" || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry with the key: %d, replayed %q, %v; want the saved 500 replayed", status, h.Get("Idempotent-Replayed"), body)
	}
	if n := emu.CustomerCount(); n != 1 {
		t.Errorf("CustomerCount = %d after the replay, want 1", n)
	}
	// Without a key nothing is saved: the next request runs.
	emu.FailNextAfterRun(1)
	if status, _, _ = c.do("POST", "/v1/customers", form); status != 500 {
		t.Errorf("keyless failed run: %d, want 500", status)
	}
	if status, _, _ = c.do("POST", "/v1/customers", form); status != 200 {
		t.Errorf("keyless request after a failed run: %d, want 200", status)
	}

	emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.ServerError})
	if status, _, _ = c.do("POST", "/v1/customers", form, "Idempotency-Key", "kfault"); status != 500 {
		t.Fatalf("injected fault: %d, want 500", status)
	}
	status, h, body = c.do("POST", "/v1/customers", form, "Idempotency-Key", "kfault")
	if status != 200 || h.Get("Idempotent-Replayed") == "true" {
		t.Errorf("retry after an injected fault: %d, replayed %q, %v; want a fresh 200", status, h.Get("Idempotent-Replayed"), body)
	}
	if n := emu.CustomerCount(); n != 4 {
		t.Errorf("CustomerCount = %d, want 4", n)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	for _, key := range []string{"", "sk_live_abcdef1234", "pk_test_abc"} {
		c.key = key
		status, _, body := c.do("GET", "/v1/customers", nil)
		e := errorOf(body)
		if status != 401 || e["type"] != "invalid_request_error" {
			t.Errorf("key %q: %d %v", key, status, body)
		}
		if msg, _ := e["message"].(string); key != "" && strings.Contains(msg, key) {
			t.Errorf("key %q echoed unmasked: %q", key, msg)
		}
	}
	c.key = "rk_test_restricted"
	if status, _, _ := c.do("GET", "/v1/customers", nil); status != 200 {
		t.Errorf("restricted test key: %d", status)
	}
}

func TestCustomerWireFormat(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	status, _, cus := c.do("POST", "/v1/customers", url.Values{
		"name":                     {"Ann"},
		"address[line1]":           {"1 Main St"},
		"address[country]":         {"US"},
		"shipping[name]":           {"Ann"},
		"shipping[address][line1]": {"2 Side St"},
		"preferred_locales[]":      {"en", "fr"},
		"metadata[a]":              {"1"},
		"metadata[b]":              {"2"},
	})
	if status != 200 {
		t.Fatalf("create: %d %v", status, cus)
	}
	if cus["object"] != "customer" || cus["livemode"] != false || cus["email"] != nil || cus["created"] == nil {
		t.Errorf("customer = %v", cus)
	}
	addr := cus["address"].(map[string]any)
	if addr["line1"] != "1 Main St" || addr["country"] != "US" || addr["city"] != nil {
		t.Errorf("address = %v", addr)
	}
	ship := cus["shipping"].(map[string]any)
	if ship["name"] != "Ann" || ship["address"].(map[string]any)["line1"] != "2 Side St" {
		t.Errorf("shipping = %v", ship)
	}
	if inv := cus["invoice_settings"].(map[string]any); inv["default_payment_method"] != nil {
		t.Errorf("invoice_settings = %v", inv)
	}
	if locales := cus["preferred_locales"].([]any); len(locales) != 2 || locales[0] != "en" {
		t.Errorf("preferred_locales = %v", locales)
	}
	id := cus["id"].(string)

	// Update: metadata merges, an empty value removes a key, an empty
	// hash unsets the address.
	status, _, upd := c.do("POST", "/v1/customers/"+id, url.Values{"metadata[a]": {""}, "metadata[c]": {"3"}, "address": {""}, "email": {"ann@example.com"}})
	if status != 200 {
		t.Fatalf("update: %d %v", status, upd)
	}
	md := upd["metadata"].(map[string]any)
	if _, ok := md["a"]; ok || md["b"] != "2" || md["c"] != "3" || upd["address"] != nil || upd["email"] != "ann@example.com" {
		t.Errorf("updated = %v", upd)
	}

	for _, tc := range []struct {
		form  url.Values
		code  string
		param string
	}{
		{url.Values{"bogus": {"1"}}, "parameter_unknown", "bogus"},
		{url.Values{"address[street]": {"x"}}, "parameter_unknown", "address[street]"},
		{url.Values{"shipping[address][line1]": {"x"}}, "parameter_missing", "shipping[name]"},
		{url.Values{"email": {"nope"}}, "email_invalid", "email"},
	} {
		status, _, body := c.do("POST", "/v1/customers", tc.form)
		e := errorOf(body)
		if status != 400 || e["code"] != tc.code || e["param"] != tc.param {
			t.Errorf("%v: %d %v, want 400 %s on %s", tc.form, status, body, tc.code, tc.param)
		}
	}

	status, _, body := c.do("GET", "/v1/customers/cus_missing", nil)
	if e := errorOf(body); status != 404 || e["code"] != "resource_missing" || e["param"] != "id" {
		t.Errorf("missing customer: %d %v", status, body)
	}
	status, _, body = c.do("DELETE", "/v1/customers/"+id, nil)
	if status != 200 || body["deleted"] != true || body["id"] != id {
		t.Errorf("delete: %d %v", status, body)
	}
	status, _, body = c.do("GET", "/v1/customers/"+id, nil)
	if status != 200 || body["deleted"] != true || body["object"] != "customer" || len(body) != 3 {
		t.Errorf("get deleted: %d %v, want the stub", status, body)
	}
	if status, _, _ = c.do("POST", "/v1/customers/"+id, url.Values{"name": {"x"}}); status != 404 {
		t.Errorf("update deleted: %d", status)
	}
}

func TestListAndSearch(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	var created []string
	for _, f := range []url.Values{
		{"email": {"one@example.com"}, "name": {"Alpha One"}, "metadata[tier]": {"gold"}},
		{"email": {"two@example.com"}, "name": {"Beta Two"}, "metadata[tier]": {"silver"}},
		{"email": {"three@example.com"}, "name": {"Alpha Three"}, "metadata[tier]": {"gold"}},
	} {
		_, _, body := c.do("POST", "/v1/customers", f)
		created = append(created, body["id"].(string))
	}

	_, _, page := c.do("GET", "/v1/customers", url.Values{"limit": {"2"}})
	if got := ids(page); page["object"] != "list" || page["has_more"] != true || page["url"] != "/v1/customers" ||
		len(got) != 2 || got[0] != created[2] || got[1] != created[1] {
		t.Errorf("first page = %v, want newest first", page)
	}
	_, _, page = c.do("GET", "/v1/customers", url.Values{"limit": {"2"}, "starting_after": {created[1]}})
	if got := ids(page); page["has_more"] != false || len(got) != 1 || got[0] != created[0] {
		t.Errorf("second page = %v", page)
	}
	_, _, page = c.do("GET", "/v1/customers", url.Values{"limit": {"1"}, "ending_before": {created[0]}})
	if got := ids(page); page["has_more"] != true || len(got) != 1 || got[0] != created[1] {
		t.Errorf("page before the oldest = %v", page)
	}
	_, _, page = c.do("GET", "/v1/customers", url.Values{"ending_before": {created[0]}})
	if got := ids(page); page["has_more"] != false || len(got) != 2 || got[0] != created[2] || got[1] != created[1] {
		t.Errorf("all before the oldest = %v, want newest first", page)
	}
	_, _, page = c.do("GET", "/v1/customers", url.Values{"email": {"two@example.com"}})
	if got := ids(page); len(got) != 1 || got[0] != created[1] {
		t.Errorf("by email = %v", got)
	}
	if status, _, body := c.do("GET", "/v1/customers", url.Values{"email": {"two@example.com"}, "starting_after": {created[0]}}); status != 400 ||
		body["error"].(map[string]any)["param"] != "starting_after" {
		t.Errorf("a cursor outside the email's list: %d %v", status, body)
	}
	if status, _, _ := c.do("GET", "/v1/customers", url.Values{"limit": {"101"}}); status != 400 {
		t.Errorf("limit 101: %d", status)
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{`metadata['tier']:'gold'`, []string{created[2], created[0]}},
		{`metadata['tier']:'gold' AND name~'three'`, []string{created[2]}},
		{`email:'TWO@example.com' OR email:"one@example.com"`, []string{created[1], created[0]}},
		{`-metadata['tier']:'gold'`, []string{created[1]}},
		{`metadata['tier']:'bronze'`, nil},
		{`metadata['it\'s']:'x'`, nil},
	} {
		status, _, res := c.do("GET", "/v1/customers/search", url.Values{"query": {tc.query}})
		if status != 200 || res["object"] != "search_result" || res["url"] != "/v1/customers/search" {
			t.Errorf("%s: %d %v", tc.query, status, res)
			continue
		}
		if got := ids(res); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: ids %v, want %v", tc.query, got, tc.want)
		}
	}
	_, _, res := c.do("GET", "/v1/customers/search", url.Values{"query": {`metadata['tier']:'gold'`}, "limit": {"1"}})
	next, _ := res["next_page"].(string)
	if res["has_more"] != true || next == "" {
		t.Fatalf("paged search = %v", res)
	}
	_, _, res = c.do("GET", "/v1/customers/search", url.Values{"query": {`metadata['tier']:'gold'`}, "limit": {"1"}, "page": {next}})
	if got := ids(res); len(got) != 1 || got[0] != created[0] || res["has_more"] != false || res["next_page"] != nil {
		t.Errorf("next page = %v", res)
	}
	for _, q := range []string{"", "balance:'1'", "email:'a' AND", "name:'a' AND email:'b' OR phone:'c'", "name~'ab'"} {
		if status, _, body := c.do("GET", "/v1/customers/search", url.Values{"query": {q}}); status != 400 || errorOf(body)["type"] != "invalid_request_error" {
			t.Errorf("query %q: %d %v, want 400", q, status, body)
		}
	}
}

func TestPaymentMethods(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	_, _, cus := c.do("POST", "/v1/customers", url.Values{"name": {"Ann"}})
	id := cus["id"].(string)
	status, _, pm := c.do("POST", "/_sandbox/customers/"+id+"/payment_methods", nil)
	if status != 200 || pm["object"] != "payment_method" || pm["customer"] != id || !strings.HasPrefix(pm["id"].(string), "pm_") {
		t.Fatalf("sandbox attach: %d %v", status, pm)
	}
	second, err := emu.AttachPaymentMethod(id)
	if err != nil {
		t.Fatal(err)
	}
	_, _, list := c.do("GET", "/v1/customers/"+id+"/payment_methods", url.Values{"limit": {"1"}})
	if got := ids(list); list["has_more"] != true || len(got) != 1 || got[0] != second {
		t.Errorf("payment methods page = %v, want the newest, more to come", list)
	}
	_, _, got := c.do("GET", "/v1/customers/"+id, nil)
	if got["invoice_settings"].(map[string]any)["default_payment_method"] != second {
		t.Errorf("default payment method = %v, want %s", got["invoice_settings"], second)
	}
	// The default may be set to an attached method, not to a stranger's.
	if status, _, _ := c.do("POST", "/v1/customers/"+id, url.Values{"invoice_settings[default_payment_method]": {pm["id"].(string)}}); status != 200 {
		t.Errorf("set default to an attached method: %d", status)
	}
	if status, _, _ := c.do("POST", "/v1/customers/"+id, url.Values{"invoice_settings[default_payment_method]": {"pm_nope"}}); status != 400 {
		t.Errorf("set default to an unknown method: %d", status)
	}
	if err := emu.DetachPaymentMethods(id); err != nil {
		t.Fatal(err)
	}
	_, _, list = c.do("GET", "/v1/customers/"+id+"/payment_methods", nil)
	if got := ids(list); len(got) != 0 {
		t.Errorf("after detach: %v", got)
	}
	if _, err := emu.AttachPaymentMethod("cus_nope"); err == nil {
		t.Error("attach to an unknown customer succeeded")
	}
	if status, _, _ := c.do("GET", "/v1/customers/cus_nope/payment_methods", nil); status != 404 {
		t.Errorf("payment methods of an unknown customer: %d", status)
	}
}

func TestFaultPlanOverHTTP(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	req, _ := http.NewRequest(http.MethodPut, c.base+"/_faults", strings.NewReader(`{"fail_next":1,"fail":"rate_limited","retry_after":"2s"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT /_faults: %d", resp.StatusCode)
	}
	status, h, body := c.do("GET", "/v1/customers", nil)
	if e := errorOf(body); status != 429 || h.Get("Retry-After") != "2" || e["code"] != "rate_limit" {
		t.Errorf("faulted call: %d Retry-After %q %v", status, h.Get("Retry-After"), body)
	}
	if status, _, _ := c.do("GET", "/v1/customers", nil); status != 200 {
		t.Errorf("after the fault: %d", status)
	}
	if emu.Faults.Injected() != 1 {
		t.Errorf("Injected = %d", emu.Faults.Injected())
	}
}

func TestCheckoutSession(t *testing.T) {
	t.Parallel()
	emu := stripeemu.New()
	// Mounted under a prefix, as a sandbox inside paysync's server would be.
	mux := http.NewServeMux()
	mux.Handle("/sandbox/stripe/", http.StripPrefix("/sandbox/stripe", emu))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := &client{t: t, base: srv.URL + "/sandbox/stripe", key: "sk_test_unit"}

	_, _, cus := c.do("POST", "/v1/customers", url.Values{"name": {"Ann"}})
	id := cus["id"].(string)
	status, _, s := c.do("POST", "/v1/checkout/sessions", url.Values{
		"mode": {"setup"}, "customer": {id}, "payment_method_types[0]": {"card"},
		"success_url": {"https://app.example.test/ok?s={CHECKOUT_SESSION_ID}"},
	})
	if status != 200 || s["object"] != "checkout.session" || s["mode"] != "setup" || s["status"] != "open" {
		t.Fatalf("session: %d %v", status, s)
	}
	sid := s["id"].(string)
	u, _ := s["url"].(string)
	if !strings.HasPrefix(sid, "cs_test_") || u != c.base+"/checkout/"+sid {
		t.Fatalf("id %q url %q", sid, u)
	}
	page, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != 200 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Errorf("checkout page: %d %s", page.StatusCode, page.Header.Get("Content-Type"))
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	done, err := noRedirect.Post(u, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	done.Body.Close()
	if done.StatusCode != http.StatusSeeOther || done.Header.Get("Location") != "https://app.example.test/ok?s="+sid {
		t.Errorf("complete: %d to %q", done.StatusCode, done.Header.Get("Location"))
	}
	if got, _ := emu.Customer(id); got.DefaultPaymentMethod == "" {
		t.Error("completing the session attached no payment method")
	}
	if _, _, s = c.do("GET", "/v1/checkout/sessions/"+sid, nil); s["status"] != "complete" || s["url"] != nil {
		t.Errorf("completed session = %v", s)
	}

	for _, tc := range []struct {
		form  url.Values
		param string
	}{
		{url.Values{"customer": {id}, "success_url": {"https://x.test"}, "payment_method_types[0]": {"card"}}, "mode"},
		{url.Values{"mode": {"setup"}, "customer": {"cus_nope"}, "success_url": {"https://x.test"}, "payment_method_types[0]": {"card"}}, "customer"},
		{url.Values{"mode": {"setup"}, "customer": {id}, "success_url": {"https://x.test"}, "payment_method_types[0]": {"bogus"}}, "payment_method_types[0]"},
		{url.Values{"mode": {"setup"}, "customer": {id}, "payment_method_types[0]": {"card"}}, "success_url"},
	} {
		if status, _, body := c.do("POST", "/v1/checkout/sessions", tc.form); status != 400 || errorOf(body)["param"] != tc.param {
			t.Errorf("%v: %d %v, want 400 on %s", tc.form, status, body, tc.param)
		}
	}
}
