package gocardless_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers/gocardless"
	"github.com/paysync/paysync/sandbox"
	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/gocardlessemu"
)

const token = "sandbox_adapter_test"

// env is one adapter talking to its own emulator over HTTP.
type env struct {
	emu *gocardlessemu.Emulator
	srv *httptest.Server
	p   *gocardless.Provider
}

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := gocardlessemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &env{emu: emu, srv: srv, p: newProvider(t, srv, token)}
}

func newProvider(t *testing.T, srv *httptest.Server, tok string) *gocardless.Provider {
	t.Helper()
	p, err := gocardless.New(paysync.Connection{
		Provider:    paysync.GoCardless,
		Code:        "gc",
		Credentials: map[string]string{"access_token": tok},
		BaseURL:     srv.URL,
	}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// get reads a resource straight from the emulator's API, as stored.
func (e *env) get(t *testing.T, path string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("GoCardless-Version", "2015-07-06")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, out)
	}
	return out
}

func customer() *paysync.Customer {
	return &paysync.Customer{
		ID:             "0b6f3c1e-cus",
		ExternalID:     "ext-42",
		Name:           "Ada Lovelace",
		FirstName:      "Ada",
		LastName:       "Lovelace",
		CustomerType:   "company",
		LegalName:      "Analytical Engines Ltd",
		Email:          "ada@example.com",
		Phone:          "+44 20 7946 0000",
		Currency:       "GBP",
		DocumentLocale: "en-GB",
		BillingAddress: paysync.Address{Line1: "1 Engine Street", Line2: "Floor 2", City: "London",
			State: "Greater London", PostalCode: "N1 9GU", Country: "GB"},
	}
}

func create(t *testing.T, p *gocardless.Provider, c *paysync.Customer, key string) string {
	t.Helper()
	id, err := idOf(p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, IdempotencyKey: key}))
	if err != nil {
		t.Fatalf("CreateCustomer: %v", err)
	}
	return id
}

// providerError asserts err is a GoCardless *paysync.ProviderError.
func providerError(t *testing.T, err error) *paysync.ProviderError {
	t.Helper()
	var pe *paysync.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *paysync.ProviderError", err, err)
	}
	if pe.Provider != paysync.GoCardless {
		t.Errorf("provider %q", pe.Provider)
	}
	return pe
}

func TestCreateCustomerSendsEveryField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := create(t, e.p, customer(), "paysync-link1-1")
	if !strings.HasPrefix(id, "CU") {
		t.Fatalf("id %q", id)
	}
	got := e.get(t, "/customers/"+id)["customers"].(map[string]any)
	want := map[string]any{
		"email": "ada@example.com", "given_name": "Ada", "family_name": "Lovelace",
		"company_name": "Analytical Engines Ltd", "address_line1": "1 Engine Street", "address_line2": "Floor 2",
		"city": "London", "region": "Greater London", "postal_code": "N1 9GU", "country_code": "GB",
		"phone_number": "+44 20 7946 0000", "language": "en",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	meta := got["metadata"].(map[string]any)
	if meta["paysync_customer_id"] != "0b6f3c1e-cus" || meta["paysync_external_id"] != "ext-42" || len(meta) != 2 {
		t.Errorf("metadata %v", meta)
	}
}

func TestCreateCustomerMapsNamesAndLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name                   string
		c                      paysync.Customer
		given, family, company any
	}{
		{"split individual name", paysync.Customer{ID: "a", Name: "Grace Brewster Hopper"}, "Grace Brewster", "Hopper", nil},
		{"company name", paysync.Customer{ID: "b", Name: "Acme SAS", CustomerType: "company"}, nil, nil, "Acme SAS"},
		{"single-word name", paysync.Customer{ID: "c", Name: "Cher"}, "Cher", nil, "Cher"},
	} {
		id := create(t, e.p, &tc.c, "key-"+tc.c.ID)
		got := e.get(t, "/customers/"+id)["customers"].(map[string]any)
		if got["given_name"] != tc.given || got["family_name"] != tc.family || got["company_name"] != tc.company {
			t.Errorf("%s: given %v family %v company %v", tc.name, got["given_name"], got["family_name"], got["company_name"])
		}
	}
	// An external id beyond GoCardless's 500-character metadata values is cut, not refused.
	long := &paysync.Customer{ID: "d", ExternalID: strings.Repeat("x", 600), Name: "Long Id", Email: "a@example.com, b@example.com"}
	id := create(t, e.p, long, "key-d")
	got := e.get(t, "/customers/"+id)["customers"].(map[string]any)
	if v := got["metadata"].(map[string]any)["paysync_external_id"].(string); len(v) != 500 {
		t.Errorf("external id metadata has %d characters, want 500", len(v))
	}
	if got["email"] != "a@example.com" {
		t.Errorf("email %v, want the first of the list", got["email"])
	}
}

func TestCreateCustomerRepeatAdoptsConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := create(t, e.p, customer(), "paysync-link2-1")
	before := e.emu.Faults.Requests()
	again := create(t, e.p, customer(), "paysync-link2-1")
	if again != first {
		t.Errorf("repeat returned %s, want %s", again, first)
	}
	if n := e.emu.Faults.Requests() - before; n != 2 {
		t.Errorf("repeat sent %d requests, want 2 (the 409 answer is adopted, then its mandates read)", n)
	}
	if n := e.emu.CustomerCount(); n != 1 {
		t.Errorf("CustomerCount %d, want 1", n)
	}
	if other := create(t, e.p, customer(), "paysync-link2-2"); other == first || e.emu.CustomerCount() != 2 {
		t.Errorf("a new generation's key must create a new customer: %s, count %d", other, e.emu.CustomerCount())
	}
}

func TestCreateCustomerConcurrentRepeatsCreateOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			id, err := idOf(e.p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: customer(), IdempotencyKey: "same"}))
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("ids differ: %v", ids)
		}
	}
	if n := e.emu.CustomerCount(); n != 1 {
		t.Errorf("CustomerCount %d, want 1", n)
	}
}

func TestCustomerStatusFollowsMandates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	id := create(t, e.p, customer(), "k")
	status := func() bool {
		t.Helper()
		s, err := e.p.CustomerStatus(ctx, id)
		if err != nil {
			t.Fatalf("CustomerStatus: %v", err)
		}
		return s.HasPaymentMethod
	}
	if status() {
		t.Fatal("a new customer has a payment method")
	}
	if _, err := e.emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	if !status() {
		t.Fatal("an active mandate is not a payment method")
	}
	if err := e.emu.CancelMandates(id); err != nil {
		t.Fatal(err)
	}
	if status() {
		t.Fatal("a cancelled mandate still counts")
	}
}

func TestCustomerStatusUnknownAndRemoved(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, id := range []string{"CU0000NOTHERE", ""} {
		_, err := e.p.CustomerStatus(ctx, id)
		pe := providerError(t, err)
		if pe.Code != paysync.CodeCustomerNotFound || pe.Retryable {
			t.Errorf("%q: %v", id, pe)
		}
	}
	id := create(t, e.p, customer(), "k")
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/customers/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("GoCardless-Version", "2015-07-06")
	resp, err := e.srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("remove: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = e.p.CustomerStatus(ctx, id)
	if pe := providerError(t, err); pe.Code != paysync.CodeCustomerNotFound || pe.Retryable {
		t.Errorf("removed customer: %v", pe)
	}
}

func TestServerErrorIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.ServerError})
	_, err := e.p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: customer(), IdempotencyKey: "k"})
	pe := providerError(t, err)
	if !pe.Retryable || pe.HTTPStatus != 500 || pe.Code != "internal_server_error" {
		t.Errorf("500: %v", pe)
	}
	// The retry with the same key succeeds and creates exactly one customer.
	if id := create(t, e.p, customer(), "k"); id == "" || e.emu.CustomerCount() != 1 {
		t.Errorf("retry: %q, count %d", id, e.emu.CustomerCount())
	}
}

func TestRateLimitIsRetryableAfterReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.RateLimited, RetryAfter: 3 * time.Second})
	_, err := e.p.CustomerStatus(context.Background(), "CU0000ANY")
	pe := providerError(t, err)
	if !pe.Retryable || pe.HTTPStatus != 429 || pe.Code != "rate_limit_exceeded" {
		t.Fatalf("429: %v", pe)
	}
	// RateLimit-Reset is an HTTP date (second precision), 3 s ahead.
	if pe.RetryAfter < time.Second || pe.RetryAfter > 4*time.Second {
		t.Errorf("RetryAfter %s, want about 3s", pe.RetryAfter)
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.Timeout})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := e.p.CreateCustomer(ctx, paysync.CreateCustomerRequest{Customer: customer(), IdempotencyKey: "k"})
	pe := providerError(t, err)
	if !pe.Retryable || pe.Code != "timeout" {
		t.Errorf("timeout: %v", pe)
	}
	if !paysync.IsRetryable(err) {
		t.Error("paysync.IsRetryable says no")
	}
}

// A call cancelled in flight is retryable "canceled", as in every adapter
// (GoCardless's used to say network_error).
func TestCancelledCallIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.Timeout})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := e.p.CreateCustomer(ctx, paysync.CreateCustomerRequest{Customer: customer(), IdempotencyKey: "k"})
	pe := providerError(t, err)
	if !pe.Retryable || pe.Code != "canceled" || pe.HTTPStatus != 0 {
		t.Errorf("cancelled: %v", pe)
	}
}

func TestBadTokenIsPermanent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := newProvider(t, e.srv, "live_not_a_sandbox_token")
	_, err := bad.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: customer(), IdempotencyKey: "k"})
	pe := providerError(t, err)
	if pe.Retryable || pe.HTTPStatus != 401 || pe.Code != "access_token_not_found" {
		t.Errorf("bad token: %v", pe)
	}
	if strings.Contains(pe.Error(), "live_not_a_sandbox_token") {
		t.Error("the error carries the token")
	}
}

func TestValidationFailureIsPermanent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := customer()
	c.Email = "not-an-email"
	_, err := e.p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, IdempotencyKey: "k"})
	pe := providerError(t, err)
	if pe.Retryable || pe.HTTPStatus != 422 || pe.Code != "validation_failed" || !strings.Contains(pe.Message, "email") {
		t.Errorf("validation: %v", pe)
	}
}

func TestSetupLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := customer()
	c.Currency = "EUR"
	id := create(t, e.p, c, "k")
	link, err := e.p.SetupLink(ctx, c, id, "https://app.example/return", "paysync-link3-1")
	if err != nil {
		t.Fatalf("SetupLink: %v", err)
	}
	if !strings.HasPrefix(link, e.srv.URL+"/_sandbox/billing_request_flows/BRF") {
		t.Fatalf("link %q is not the flow's authorisation_url", link)
	}
	// Asked again with the same key: the billing request is reused, and a
	// fresh flow still yields a link.
	again, err := e.p.SetupLink(ctx, c, id, "https://app.example/return", "paysync-link3-1")
	if err != nil || again == "" {
		t.Fatalf("repeat SetupLink: %q, %v", again, err)
	}

	// The payer authorises: the customer gets a SEPA mandate (EUR) and a
	// payment method, and is sent back to the return URL.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Post(link, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://app.example/return" {
		t.Fatalf("authorising: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	mandates := e.get(t, "/mandates?customer="+id)["mandates"].([]any)
	if len(mandates) != 1 || mandates[0].(map[string]any)["scheme"] != "sepa_core" {
		t.Errorf("mandates %v, want one sepa_core", mandates)
	}
	s, err := e.p.CustomerStatus(ctx, id)
	if err != nil || !s.HasPaymentMethod {
		t.Errorf("after the flow: %+v, %v", s, err)
	}

	// Once the key's billing request is fulfilled, the same key still gets
	// a working link, on a new billing request.
	after, err := e.p.SetupLink(ctx, c, id, "https://app.example/return", "paysync-link3-1")
	if err != nil || after == link || after == again {
		t.Fatalf("SetupLink after completion: %q, %v", after, err)
	}
	if page, err := http.Get(after); err != nil || page.StatusCode != 200 {
		t.Fatalf("new link: %v %v", page, err)
	} else {
		page.Body.Close()
	}

	if _, err := e.p.SetupLink(ctx, c, "CU0000NOTHERE", "https://app.example/return", "k2"); providerError(t, err).Retryable {
		t.Errorf("setup link for an unknown customer is retryable: %v", err)
	}
}

// recorder forwards to the emulator in-process and keeps the requests.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	emu  http.Handler
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	w := httptest.NewRecorder()
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	r.emu.ServeHTTP(w, in)
	return w.Result(), nil
}

func TestNewPicksEndpointAndSendsHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		conn paysync.Connection
		host string
	}{
		{"default sandbox", paysync.Connection{Credentials: map[string]string{"access_token": token}}, "api-sandbox.gocardless.com"},
		{"live", paysync.Connection{Credentials: map[string]string{"access_token": token, "environment": "live"}}, "api.gocardless.com"},
		{"sandbox connection", paysync.Connection{Sandbox: true, Credentials: sandbox.Credentials(paysync.GoCardless)}, "api-sandbox.gocardless.com"},
		{"base URL override", paysync.Connection{BaseURL: "http://gc.internal:8080/", Credentials: map[string]string{"access_token": token}}, "gc.internal:8080"},
	} {
		rec := &recorder{emu: gocardlessemu.New()}
		p, err := gocardless.New(tc.conn, &http.Client{Transport: rec})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, err := p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: customer(), IdempotencyKey: "paysync-l-1"}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		req := rec.reqs[0]
		if req.URL.Host != tc.host || req.URL.Path != "/customers" || req.Method != "POST" {
			t.Errorf("%s: %s %s", tc.name, req.Method, req.URL)
		}
		for k, want := range map[string]string{
			"GoCardless-Version": "2015-07-06", "Idempotency-Key": "paysync-l-1",
			"Content-Type": "application/json", "Accept": "application/json",
		} {
			if got := req.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", tc.name, k, got, want)
			}
		}
		if !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer sandbox_") {
			t.Errorf("%s: Authorization %q", tc.name, req.Header.Get("Authorization"))
		}
	}
}

func TestNewRejectsBadCredentials(t *testing.T) {
	t.Parallel()
	_, err := gocardless.New(paysync.Connection{Credentials: map[string]string{}}, nil)
	if err == nil || !strings.Contains(err.Error(), "credentials.access_token is required") || paysync.ErrorCode(err) != paysync.EINVALID {
		t.Errorf("no token: %v", err)
	}
	_, err = gocardless.New(paysync.Connection{Credentials: map[string]string{"access_token": "t", "environment": "staging"}}, nil)
	if paysync.ErrorCode(err) != paysync.EINVALID {
		t.Errorf("bad environment: %v", err)
	}
}
