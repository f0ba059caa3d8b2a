package api_test

// Fuzz targets for the three dialects' create decoders. Each feeds
// arbitrary bytes as a create body through the real server (all its
// middleware, the real store in a SQLite file) and asserts:
//   - no panic and never a 5xx;
//   - a JSON body, of the dialect's success shape on 2xx and of its error
//     shape otherwise, with a status the dialect uses for a bad body;
//   - a 2xx only when the customer reads back from the store under the
//     external id the request carried (as the dialect normalizes it).
//
// `go test` runs the seed corpus; CI runs each briefly with -fuzz, e.g.
//   go test ./api -run '^$' -fuzz '^FuzzLagoDecode$' -fuzztime 10s

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/api"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/store"
)

// fuzzServer is the real server on a SQLite store, made once per fuzz
// target (and once per fuzzing worker process).
type fuzzServer struct {
	handler http.Handler
	store   *store.DB
	org     *paysync.Organization
	key     string
}

type fuzzQueue struct{}

func (fuzzQueue) EnqueueSync(context.Context, paysync.LinkRef, time.Duration) error { return nil }

type fuzzSyncer struct{}

func (fuzzSyncer) Sync(context.Context, paysync.LinkRef) error { return nil }

// fuzzDSN is the store the fuzz targets run on: SQLite, or PostgreSQL
// when PAYSYNC_FUZZ_STORE=postgres (CI fuzzes each target on both; the
// seed corpus runs on both in TestFuzzSeedsReachBothPaths).
func fuzzDSN(f testing.TB) string {
	if os.Getenv("PAYSYNC_FUZZ_STORE") == "postgres" {
		return testenv.PostgresURL(f)
	}
	return filepath.Join(f.TempDir(), "fuzz.db")
}

func newFuzzServer(f testing.TB) *fuzzServer { return newFuzzServerOn(f, fuzzDSN(f)) }

func newFuzzServerOn(f testing.TB, dsn string) *fuzzServer {
	f.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	org, err := db.EnsureOrganization(ctx, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	const key = "3f0c9d1e-8a4b-4c2d-9e6f-7a8b9c0d1e2f"
	if err := db.AddAPIKey(ctx, org.ID, api.HashKey(key)); err != nil {
		f.Fatal(err)
	}
	// One connection of each kind, so that provider requests get past the
	// connection lookup into the link, queue and inline-sync paths.
	conns := &staticConnections{}
	for _, kind := range []paysync.ProviderKind{paysync.Stripe, paysync.Adyen, paysync.GoCardless, paysync.Braintree} {
		conns.add(org.ID, kind, string(kind))
	}
	logger := slog.New(slog.DiscardHandler)
	handler := api.NewServer(api.Deps{
		Service: &paysync.Service{Store: db, Connections: conns, Queue: fuzzQueue{}, Syncer: fuzzSyncer{},
			InlineTimeout: 5 * time.Second, Logger: logger},
		Store:  db,
		Logger: logger,
	})
	return &fuzzServer{handler: handler, store: db, org: org, key: key}
}

// fuzzDialect is what differs between the three targets.
type fuzzDialect struct {
	name   string
	target string // the create route
	seeds  []string
	auth   func(r *http.Request, key string)
	// created is the create's success status.
	created int
	// refusals are the statuses a bad body may get.
	refusals []int
	// success checks a success body and returns the external id it shows.
	success func(body map[string]any) (string, error)
	// failure checks an error body.
	failure func(status int, body map[string]any) error
	// externalID is the id the request carries, as the dialect normalizes
	// it; ok is false when the request has none paysync would take.
	externalID func(body []byte) (id string, ok bool)
}

// run is the fuzz function of d.
func (d fuzzDialect) run(f *testing.F) {
	for _, s := range fuzzSeeds(f, d.seeds...) {
		f.Add(s)
	}
	srv := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) { d.exercise(t, srv, body) })
}

// exercise sends body as a create and checks every invariant; it returns
// the status.
func (d fuzzDialect) exercise(t testing.TB, srv *fuzzServer, body []byte) int {
	t.Helper()
	req := httptest.NewRequest("POST", d.target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	d.auth(req, srv.key)
	rec := httptest.NewRecorder()
	srv.handler.ServeHTTP(rec, req)

	status, out := rec.Code, rec.Body.Bytes()
	if status >= 500 {
		t.Fatalf("%s: status %d for %q: %s", d.name, status, body, out)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q for %q", d.name, ct, body)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s: status %d, the body is not a JSON object: %v: %s", d.name, status, err, out)
	}
	if status == d.created && hasBadText(body) {
		t.Fatalf("%s: status %d for a body with NUL, invalid UTF-8 or a lone surrogate %q: %s", d.name, status, body, out)
	}
	if status != d.created {
		if !fuzzStatusIn(d.refusals, status) {
			t.Fatalf("%s: status %d for %q: %s", d.name, status, body, out)
		}
		if err := d.failure(status, v); err != nil {
			t.Fatalf("%s: status %d, error body: %v: %s", d.name, status, err, out)
		}
		return status
	}
	got, err := d.success(v)
	if err != nil {
		t.Fatalf("%s: status %d, success body: %v: %s", d.name, status, err, out)
	}
	want, ok := d.externalID(body)
	if !ok {
		t.Fatalf("%s: status %d for a request without a usable external id %q: %s", d.name, status, body, out)
	}
	if got != want {
		t.Fatalf("%s: the response shows external id %q, the request carried %q", d.name, got, want)
	}
	c, err := srv.store.Customer(context.Background(), srv.org.ID, paysync.CustomerKey{ExternalID: want})
	if err != nil || c.ExternalID != want {
		t.Fatalf("%s: status %d but customer %q does not read back: %v", d.name, status, want, err)
	}
	return status
}

func fuzzStatusIn(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func FuzzLagoDecode(f *testing.F)      { fuzzLago.run(f) }
func FuzzLotusDecode(f *testing.F)     { fuzzLotus.run(f) }
func FuzzFlexpriceDecode(f *testing.F) { fuzzFlexprice.run(f) }

var fuzzLago = fuzzDialect{
	name:     "Lago",
	target:   "/api/v1/customers",
	seeds:    []string{"001_", "003_"},
	auth:     func(r *http.Request, key string) { r.Header.Set("Authorization", "Bearer "+key) },
	created:  http.StatusOK,
	refusals: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	success: func(v map[string]any) (string, error) {
		c, ok := v["customer"].(map[string]any)
		if !ok {
			return "", fmt.Errorf("no customer object")
		}
		if id, _ := c["lago_id"].(string); id == "" {
			return "", fmt.Errorf("no lago_id")
		}
		if _, ok := c["billing_configuration"].(map[string]any); !ok {
			return "", fmt.Errorf("no billing_configuration")
		}
		id, ok := c["external_id"].(string)
		if !ok {
			return "", fmt.Errorf("external_id is %T", c["external_id"])
		}
		return id, nil
	},
	failure: func(status int, v map[string]any) error {
		// Lago's ApiErrors: {status, error[, code, error_details]}.
		if n, _ := v["status"].(float64); int(n) != status {
			return fmt.Errorf("status %v in a %d", v["status"], status)
		}
		if e, _ := v["error"].(string); e == "" {
			return fmt.Errorf("no error")
		}
		if status == http.StatusUnprocessableEntity {
			if v["code"] != "validation_errors" {
				return fmt.Errorf("code %v", v["code"])
			}
			if d, _ := v["error_details"].(map[string]any); len(d) == 0 {
				return fmt.Errorf("no error_details")
			}
		}
		return nil
	},
	// customer.external_id, a string (NUL bytes dropped, as paysync
	// and Lago store it).
	externalID: func(body []byte) (string, bool) {
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) != nil {
			return "", false
		}
		var c map[string]json.RawMessage
		if json.Unmarshal(top["customer"], &c) != nil {
			return "", false
		}
		var id string
		if json.Unmarshal(c["external_id"], &id) != nil {
			return "", false
		}
		id = strings.ReplaceAll(id, "\x00", "")
		return id, strings.TrimSpace(id) != ""
	},
}

var fuzzLotus = fuzzDialect{
	name:     "Lotus",
	target:   "/api/customers/",
	seeds:    []string{"000_"},
	auth:     func(r *http.Request, key string) { r.Header.Set("Authorization", "Token "+key) },
	created:  http.StatusCreated,
	refusals: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge},
	success: func(v map[string]any) (string, error) {
		for _, k := range []string{"invoices", "subscriptions", "tax_providers"} {
			if _, ok := v[k].([]any); !ok {
				return "", fmt.Errorf("%s is %T", k, v[k])
			}
		}
		if _, ok := v["default_currency"].(map[string]any); !ok {
			return "", fmt.Errorf("no default_currency")
		}
		id, ok := v["customer_id"].(string)
		if !ok {
			return "", fmt.Errorf("customer_id is %T", v["customer_id"])
		}
		return id, nil
	},
	failure: func(_ int, v map[string]any) error {
		// The RFC7807Formatter's {type, detail, title[, validation_errors]}.
		if t, _ := v["type"].(string); !strings.HasPrefix(t, "https://docs.uselotus.io/errors/error-responses#") {
			return fmt.Errorf("type %v", v["type"])
		}
		if t, _ := v["title"].(string); t == "" {
			return fmt.Errorf("no title")
		}
		if _, ok := v["detail"].(string); !ok {
			return fmt.Errorf("detail is %T", v["detail"])
		}
		if errs, ok := v["validation_errors"]; ok {
			list, _ := errs.([]any)
			if len(list) == 0 {
				return fmt.Errorf("validation_errors %v", errs)
			}
		}
		return nil
	},
	// customer_id: a string, or a number as its text (DRF's CharField),
	// trimmed.
	externalID: func(body []byte) (string, bool) {
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) != nil {
			return "", false
		}
		raw := bytes.TrimSpace(top["customer_id"])
		var id string
		if json.Unmarshal(raw, &id) != nil {
			if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
				return "", false
			}
			id = string(raw)
		}
		id = strings.TrimSpace(id)
		return id, id != ""
	},
}

var fuzzFlexprice = fuzzDialect{
	name:     "Flexprice",
	target:   "/v1/customers",
	seeds:    []string{"002_"},
	auth:     func(r *http.Request, key string) { r.Header.Set("x-api-key", key) },
	created:  http.StatusCreated,
	refusals: []int{http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge},
	success: func(v map[string]any) (string, error) {
		if id, _ := v["id"].(string); id == "" {
			return "", fmt.Errorf("no id")
		}
		if v["status"] != "published" {
			return "", fmt.Errorf("status %v", v["status"])
		}
		id, ok := v["external_id"].(string)
		if !ok {
			return "", fmt.Errorf("external_id is %T", v["external_id"])
		}
		return id, nil
	},
	failure: func(status int, v map[string]any) error {
		// errors.ErrorResponse: {code, message, http_status_code[, details]}.
		if n, _ := v["http_status_code"].(float64); int(n) != status {
			return fmt.Errorf("http_status_code %v in a %d", v["http_status_code"], status)
		}
		if c, _ := v["code"].(string); c == "" {
			return fmt.Errorf("no code")
		}
		if _, ok := v["message"].(string); !ok {
			return fmt.Errorf("message is %T", v["message"])
		}
		return nil
	},
	// external_id, a string (NUL bytes dropped).
	externalID: func(body []byte) (string, bool) {
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) != nil {
			return "", false
		}
		var id string
		if json.Unmarshal(top["external_id"], &id) != nil {
			return "", false
		}
		id = strings.ReplaceAll(id, "\x00", "")
		return id, strings.TrimSpace(id) != ""
	},
}

// fuzzSeeds is the seed corpus: every JSON object of the named seed
// documents (../shared/seeds, by file-name prefix: requests and response
// examples alike), malformed variants of each, and bodies malformed in
// general.
func fuzzSeeds(f testing.TB, prefixes ...string) [][]byte {
	f.Helper()
	var docs []string
	for _, p := range prefixes {
		files, err := filepath.Glob(filepath.Join(testenv.SharedDir(), "seeds", p+"*"))
		if err != nil || len(files) == 0 {
			f.Fatalf("no seed document %s* in %s: %v", p, filepath.Join(testenv.SharedDir(), "seeds"), err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			docs = append(docs, jsonObjectsIn(string(b))...)
		}
	}
	if len(docs) == 0 {
		f.Fatalf("the seed documents %v hold no JSON object", prefixes)
	}
	var out [][]byte
	for _, d := range docs {
		out = append(out,
			[]byte(d),
			[]byte(d[:len(d)/2]),                    // truncated
			[]byte(strings.Replace(d, `"`, `'`, 2)), // not JSON
			[]byte(strings.ReplaceAll(d, `": "`, `": 1e999, "x": "`)), // numbers where strings were
			[]byte(strings.ReplaceAll(d, `"<string>"`, `null`)),
			[]byte(strings.ReplaceAll(d, `"<string>"`, `"\u0000\ud800é"`)),
			[]byte(`[`+d+`]`),
			[]byte(`{"customer":`+d+`}`),
		)
	}
	for _, s := range []string{
		``, ` `, `null`, `{}`, `[]`, `"x"`, `0`, `{`, `}`, `{"a":1}{"b":2}`,
		`{"customer":null}`, `{"customer":[]}`, `{"customer":{}}`, `{"customer":{"external_id":""}}`,
		`{"customer":{"external_id":"c1","external_id":"c2"}}`, `{"customer":{"external_id":"c1","EXTERNAL_ID":"c2"}}`,
		`{"customer":{"external_id":"\u0000"}}`, `{"customer":{"external_id":7}}`,
		`{"customer":{"external_id":"c1","metadata":[null,1,{"key":1}],"billing_configuration":{"payment_provider":"stripe","sync":"yes"}}}`,
		`{"customer":{"external_id":"c1","billing_configuration":{"payment_provider":"braintree","sync_with_provider":true,"sync":true}}}`,
		`{"customer":{"external_id":"c1","net_payment_term":99999999999999999999,"invoice_grace_period":-1}}`,
		`{"customer_id":"l1","email":"l1@example.com"}`, `{"customer_id":12,"email":"n@example.com"}`,
		`{"customer_id":" l2 ","email":"l2@example.com","payment_provider":"stripe","payment_provider_id":"cus_1"}`,
		`{"customer_id":"l3","email":"l3@example.com","billing_address":{"country":"NO"},"tax_rate":1e308}`,
		`{"customer_id":null,"email":null,"properties":[]}`,
		`{"external_id":"f1","name":"F"}`, `{"external_id":"f1","name":"F"}`, `{"external_id":["f2"]}`,
		`{"external_id":"f3","metadata":{"":"x","k":null},"address_country":"zz"}`,
		strings.Repeat(`[`, 600) + strings.Repeat(`]`, 600),
		`{"customer":{"external_id":"deep","metadata":` + strings.Repeat(`[`, 400) + strings.Repeat(`]`, 400) + `}}`,
		"\xff\xfe{}", "{\"customer\":{\"external_id\":\"\xff\"}}",
		// Issue 10's bad inputs: NUL and invalid UTF-8 anywhere, numbers
		// beyond float64 and int64.
		`{"customer":{"external_id":"a\u0000b"}}`, `{"external_id":"a\u0000b"}`, `{"customer_id":"a\u0000b","email":"z@example.com"}`,
		"{\"customer\":{\"external_id\":\"ok\",\"name\":\"\xc3\"}}", "{\"external_id\":\"ok\",\"metadata\":{\"\xff\":\"v\"}}",
		"{\"customer_id\":\"u1\",\"email\":\"u1@example.com\",\"properties\":{\"k\":[\"\xed\xa0\x80\"]}}",
		`{"customer":{"external_id":"s1","metadata":[{"key":"k","value":"\ud800"}]}}`, `{"external_id":"s2","name":"\udc00"}`,
		`{"customer_id":"t1","email":"t1@example.com","tax_rate":1e309}`, `{"customer_id":"t2","email":"t2@example.com","tax_rate":"-1e309"}`,
		`{"customer":{"external_id":"t3","net_payment_term":9223372036854775808,"billing_configuration":{"invoice_grace_period":1e999}}}`,
		`{"external_id":"t4","name":1e999}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// jsonObjectsIn finds the top-level JSON objects in a text: the curl
// bodies and response examples of a seed document.
func jsonObjectsIn(text string) []string {
	var out []string
	for i := 0; i < len(text); i++ {
		if text[i] != '{' {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		var raw json.RawMessage
		if dec.Decode(&raw) != nil || len(raw) < 3 {
			continue
		}
		out = append(out, string(raw))
		i += int(dec.InputOffset()) - 1
	}
	return out
}

// hasBadText reports whether a JSON body holds a string paysync must
// refuse rather than rewrite: invalid UTF-8, NUL or a lone surrogate.
func hasBadText(body []byte) bool {
	if !utf8.Valid(body) {
		return true
	}
	for i := 0; i+5 < len(body); i++ {
		if body[i] == '\\' {
			if body[i+1] != 'u' {
				i++
				continue
			}
			n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 32)
			if err != nil {
				continue
			}
			switch {
			case n == 0, n >= 0xDC00 && n <= 0xDFFF:
				return true
			case n >= 0xD800 && n <= 0xDBFF:
				rest := body[i+6:]
				if len(rest) < 6 || rest[0] != '\\' || rest[1] != 'u' {
					return true
				}
				low, err := strconv.ParseUint(string(rest[2:6]), 16, 32)
				if err != nil || low < 0xDC00 || low > 0xDFFF {
					return true
				}
				i += 6
			}
			i += 5
		}
	}
	return false
}

// TestFuzzSeedsReachBothPaths makes sure each target's seed corpus, which
// plain `go test` runs, takes both the success path (whose read-back
// invariant would otherwise go unchecked) and the refusal path.
func TestFuzzSeedsReachBothPaths(t *testing.T) {
	for _, d := range []fuzzDialect{fuzzLago, fuzzLotus, fuzzFlexprice} {
		t.Run(d.name, func(t *testing.T) {
			databases(t, func(t *testing.T, dsn string) {
				srv := newFuzzServerOn(t, dsn)
				counts := map[bool]int{}
				for _, s := range fuzzSeeds(t, d.seeds...) {
					counts[d.exercise(t, srv, s) == d.created]++
				}
				if counts[true] == 0 || counts[false] == 0 {
					t.Fatalf("%d seeds succeed, %d are refused: want some of each", counts[true], counts[false])
				}
			})
		})
	}
}
