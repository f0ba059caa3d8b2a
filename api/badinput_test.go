package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/paysync/paysync/api"
	"github.com/paysync/paysync/internal/egress"
	"github.com/paysync/paysync/store"
)

// fieldNamed is the per-field reasons a dialect's error body carries:
// Lago's error_details, Lotus's validation_errors attrs, Flexprice's details.
func fieldNamed(t *testing.T, r response, field string) bool {
	t.Helper()
	v := r.json(t)
	if d, ok := v["error_details"].(map[string]any); ok {
		_, ok := d[field]
		return ok
	}
	if list, ok := v["validation_errors"].([]any); ok {
		for _, e := range list {
			if e.(map[string]any)["attr"] == field {
				return true
			}
		}
		return false
	}
	if d, ok := v["details"].(map[string]any); ok {
		_, ok := d[field]
		return ok
	}
	return false
}

// Strings paysync could only store rewritten (NUL, invalid UTF-8, lone
// surrogates) are refused in every dialect, naming the field, and nothing
// is stored.
func TestBadTextRefused(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		type dialectCase struct {
			send   func(body string) response
			status int
			body   func(value string) string
			field  string
		}
		lago := func(b string) response { return h.post(b) }
		lotus := func(b string) response { return h.lotusPost(b) }
		flexprice := func(b string) response { return h.flexpriceCreate(b) }
		cases := map[string]dialectCase{
			"lago external_id": {lago, http.StatusUnprocessableEntity, func(v string) string { return `{"customer":{"external_id":"a` + v + `b"}}` }, "external_id"},
			"lago billing": {lago, http.StatusUnprocessableEntity, func(v string) string {
				return `{"customer":{"external_id":"ok","billing_configuration":{"document_locale":"` + v + `"}}}`
			}, "billing_configuration.document_locale"},
			"lago metadata": {lago, http.StatusUnprocessableEntity, func(v string) string {
				return `{"customer":{"external_id":"ok","metadata":[{"key":"k","value":"v"},{"key":"k2","value":"` + v + `"}]}}`
			}, "metadata[1].value"},
			"lotus customer_id": {lotus, http.StatusBadRequest, func(v string) string { return `{"customer_id":"a` + v + `","email":"x@example.com"}` }, "customer_id"},
			"lotus address": {lotus, http.StatusBadRequest, func(v string) string {
				return `{"customer_id":"ok","email":"x@example.com","billing_address":{"city":"` + v + `"}}`
			}, "billing_address.city"},
			"lotus properties": {lotus, http.StatusBadRequest, func(v string) string {
				return `{"customer_id":"ok","email":"x@example.com","properties":{"k":"` + v + `"}}`
			}, "properties.k"},
			"flexprice external_id": {flexprice, http.StatusBadRequest, func(v string) string { return `{"external_id":"` + v + `"}` }, "external_id"},
			"flexprice metadata":    {flexprice, http.StatusBadRequest, func(v string) string { return `{"external_id":"ok","metadata":{"k":"` + v + `"}}` }, "metadata.k"},
		}
		values := map[string]string{"NUL": `\u0000`, "invalid UTF-8": "\xff\xfe", "truncated UTF-8": "\xc3", "lone surrogate": `\ud800`, "lone low surrogate": `\udc00x`}
		for name, c := range cases {
			for vname, v := range values {
				t.Run(name+"/"+vname, func(t *testing.T) {
					r := c.send(c.body(v))
					wantStatus(t, r, c.status)
					if !fieldNamed(t, r, c.field) {
						t.Fatalf("the error does not name %s: %s", c.field, r.body)
					}
				})
			}
		}
		// A key with NUL is refused too, and a well-formed pair is not.
		wantStatus(t, h.flexpriceCreate(`{"external_id":"ok","metadata":{"k\u0000":"v"}}`), http.StatusBadRequest)
		wantStatus(t, h.post(`{"customer":{"external_id":"pair \ud83d\ude00","name":"é"}}`), http.StatusOK)
		if n := h.countCustomers(h.org.ID); n != 1 {
			t.Fatalf("%d customers stored, want only the valid one", n)
		}
	})
}

// Path ids that no customer can have answer 404, never a 500 (PostgreSQL
// refused the lookup with SQLSTATE 22021).
func TestBadPathIDs(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		for _, id := range []string{"a%00b", "%00", "%ff", "a%c3"} {
			wantStatus(t, h.get("/api/v1/customers/"+id), http.StatusNotFound)
			wantStatus(t, h.do("DELETE", "/api/v1/customers/"+id, h.key, nil), http.StatusNotFound)
			wantStatus(t, h.lotusGet("/api/customers/"+id+"/"), http.StatusNotFound)
			wantStatus(t, h.flexpriceGet("/v1/customers/"+id), http.StatusNotFound)
			wantStatus(t, h.flexpriceGet("/v1/customers/external/"+id), http.StatusNotFound)
			wantStatus(t, h.flexpriceDo("DELETE", "/v1/customers/"+id, h.key, nil), http.StatusNotFound)
			r := h.flexpriceGet("/v1/customers?external_id=" + id)
			wantStatus(t, r, http.StatusOK)
			if n := r.json(t)["pagination"].(map[string]any)["total"]; n != 0.0 {
				t.Fatalf("total %v", n)
			}
		}
	})
}

// A page or offset far past the end answers an empty page (no 500, not
// the first page), with the total in the dialect's own rendering.
func TestHugePaging(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		for _, id := range []string{"c1", "c2", "c3"} {
			wantStatus(t, h.post(`{"customer":{"external_id":"`+id+`"}}`), http.StatusOK)
		}
		for _, q := range []string{"?page=9223372036854775807", "?page=9223372036854775807&per_page=100", "?page=99999999999999999999", "?page=92233720368547758&per_page=9223372036854775807"} {
			r := h.get("/api/v1/customers" + q)
			wantStatus(t, r, http.StatusOK)
			// Lago's meta past the end is zeros and nulls (lagoPageMeta).
			jsonEqual(t, r.body, `{"customers":[],"meta":{"current_page":0,"next_page":null,"prev_page":null,"total_pages":0,"total_count":0}}`)
		}
		for _, q := range []string{"?offset=9223372036854775807", "?offset=99999999999999999999&limit=1000", "?offset=9223372036854775807&order=asc"} {
			r := h.flexpriceGet("/v1/customers" + q)
			wantStatus(t, r, http.StatusOK)
			v := r.json(t)
			if items := v["items"].([]any); len(items) != 0 || v["pagination"].(map[string]any)["total"] != 3.0 {
				t.Fatalf("%s: %s", q, r.body)
			}
		}
		// In a search body offsets are 32-bit; beyond, the field is named.
		r := h.flexpriceSearch(`{"offset":9223372036854775807}`)
		wantStatus(t, r, http.StatusBadRequest)
		if !fieldNamed(t, r, "offset") {
			t.Fatalf("offset not named: %s", r.body)
		}
		r = h.flexpriceSearch(`{"offset":2147483647}`)
		wantStatus(t, r, http.StatusOK)
		if v := r.json(t); len(v["items"].([]any)) != 0 || v["pagination"].(map[string]any)["total"] != 3.0 {
			t.Fatalf("search: %s", r.body)
		}
	})
}

// Numbers out of range name their field in each dialect.
func TestNumbersOutOfRange(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)
		r := h.lotusPost(`{"customer_id":"n1","email":"n1@example.com","tax_rate":1e309}`)
		wantStatus(t, r, http.StatusBadRequest)
		if !fieldNamed(t, r, "tax_rate") {
			t.Fatalf("Lotus: %s", r.body)
		}
		for _, body := range []string{
			`{"customer":{"external_id":"n2","net_payment_term":99999999999999999999}}`,
			`{"customer":{"external_id":"n2","net_payment_term":2147483648}}`,
		} {
			r = h.post(body)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if !fieldNamed(t, r, "net_payment_term") {
				t.Fatalf("Lago: %s", r.body)
			}
		}
		r = h.post(`{"customer":{"external_id":"n3","billing_configuration":{"invoice_grace_period":1e999}}}`)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if !fieldNamed(t, r, "invoice_grace_period") {
			t.Fatalf("Lago: %s", r.body)
		}
		r = h.flexpriceSearch(`{"limit":1e400}`)
		wantStatus(t, r, http.StatusBadRequest)
		if !fieldNamed(t, r, "limit") {
			t.Fatalf("Flexprice: %s", r.body)
		}
	})
}

// Webhook endpoints are refused (422, naming webhook_url) for every
// address class a client could use to reach paysync's own network.
func TestWebhookEndpointEgress(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		with := func(p egress.Policy) func(*api.Deps) {
			return func(d *api.Deps) { d.Notify, d.Egress = d.Store.(*store.DB), p }
		}
		register := func(h *harness, url string) response {
			return h.do("POST", "/api/v1/webhook_endpoints", h.key, strings.NewReader(fmt.Sprintf(`{"webhook_endpoint":{"webhook_url":%q}}`, url)))
		}
		refused := func(t *testing.T, r response, reason string) {
			t.Helper()
			wantStatus(t, r, http.StatusUnprocessableEntity)
			v := r.json(t)
			d, _ := v["error_details"].(map[string]any)
			if v["code"] != "validation_errors" || fmt.Sprint(d["webhook_url"]) != "["+reason+"]" {
				t.Fatalf("body %s, want webhook_url %s", r.body, reason)
			}
		}
		h := newHarness(t, dsn, with(egress.Policy{AllowHTTP: true}))
		for _, url := range []string{
			"http://127.0.0.1:8080/", "http://[::1]:6379/", "http://localhost/hook", "http://169.254.169.254/latest/meta-data/",
			"http://[fe80::1]/", "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.0.10/", "http://[fc00::1]/",
			"http://[fd00::5]/", "http://0.0.0.0/", "http://[::]/", "http://224.0.0.251/", "http://[ff02::1]/",
			"http://100.64.0.1/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/",
		} {
			t.Run(url, func(t *testing.T) { refused(t, register(h, url), "address_not_allowed") })
		}
		wantStatus(t, register(h, "http://93.184.215.14/hook"), http.StatusOK)

		// https only, unless http is allowed.
		strict := newHarness(t, dsn, with(egress.Policy{}))
		refused(t, register(strict, "http://93.184.215.14/hook"), "scheme_not_allowed")
		wantStatus(t, register(strict, "https://93.184.215.14/hook"), http.StatusOK)

		// Operators who deliver inside their network allow private addresses.
		private := newHarness(t, dsn, with(egress.Policy{AllowHTTP: true, AllowPrivate: true}))
		wantStatus(t, register(private, "http://127.0.0.1:9/hook"), http.StatusOK)
		wantStatus(t, register(private, "http://localhost:9/hook"), http.StatusOK)
	})
}
