package braintree_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
	"github.com/paysync/paysync/providers/braintree"
	"github.com/paysync/paysync/sandbox"
	"github.com/paysync/paysync/sandbox/braintreeemu"
	"github.com/paysync/paysync/sandbox/fault"
)

func credentials() map[string]string {
	return map[string]string{
		"merchant_id": braintreeemu.MerchantID,
		"public_key":  braintreeemu.PublicKey,
		"private_key": braintreeemu.PrivateKey,
	}
}

// start serves a fresh emulator and returns an adapter pointed at it.
func start(t *testing.T) (*braintree.Provider, *braintreeemu.Emulator, *httptest.Server) {
	t.Helper()
	emu := braintreeemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	p, err := braintree.New(paysync.Connection{Provider: paysync.Braintree, Code: "bt", BaseURL: srv.URL, Credentials: credentials()}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return p, emu, srv
}

var linkSeq atomic.Int64

func newLink(gen int) *paysync.ProviderLink {
	return &paysync.ProviderLink{
		ID:         fmt.Sprintf("0b5f3c2e-7d41-4a8e-9c1b-%012x", linkSeq.Add(1)),
		Provider:   paysync.Braintree,
		Generation: gen,
	}
}

func request(c *paysync.Customer, l *paysync.ProviderLink) paysync.CreateCustomerRequest {
	return paysync.CreateCustomerRequest{Customer: c, Link: l, IdempotencyKey: l.IdempotencyKey()}
}

// sdk reads the emulator back with braintree-go itself.
func sdk(srv *httptest.Server) *bt.Braintree {
	return bt.NewWithHttpClient(bt.NewEnvironment(srv.URL), braintreeemu.MerchantID, braintreeemu.PublicKey, braintreeemu.PrivateKey, srv.Client())
}

func providerError(t *testing.T, err error) *paysync.ProviderError {
	t.Helper()
	var pe *paysync.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *paysync.ProviderError", err, err)
	}
	if pe.Provider != paysync.Braintree {
		t.Errorf("Provider = %q, want braintree", pe.Provider)
	}
	return pe
}

func TestCreateCustomerStoresFields(t *testing.T) {
	t.Parallel()
	p, emu, srv := start(t)
	ctx := context.Background()

	link := newLink(1)
	id, err := idOf(p.CreateCustomer(ctx, request(&paysync.Customer{
		Name: "ignored when first and last are set", FirstName: "Ada", LastName: "Lovelace",
		LegalName: "Analytical Engines Ltd", Email: "ada@example.com", Phone: "+44 20 7946 0958",
		URL: "https://engines.example.com", Metadata: []paysync.Metadata{{Key: "plan", Value: "gold"}},
	}, link)))
	if err != nil {
		t.Fatal(err)
	}
	if want := braintree.CustomerID(link); id != want {
		t.Errorf("id = %q, want the deterministic %q", id, want)
	}
	got, err := sdk(srv).Customer().Find(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := bt.Customer{Id: id, FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines Ltd",
		Email: "ada@example.com", Phone: "+44 20 7946 0958", Website: "https://engines.example.com"}
	if got.Id != want.Id || got.FirstName != want.FirstName || got.LastName != want.LastName || got.Company != want.Company ||
		got.Email != want.Email || got.Phone != want.Phone || got.Website != want.Website {
		t.Errorf("stored customer = %+v, want %+v", got, want)
	}
	if len(got.CustomFields) != 0 {
		t.Errorf("custom fields %v sent; they need gateway configuration", got.CustomFields)
	}
	if got.CreatedAt == nil || got.CreatedAt.IsZero() {
		t.Error("created-at not parsed")
	}

	// Without first and last names, Name is split at its first space.
	id, err = idOf(p.CreateCustomer(ctx, request(&paysync.Customer{Name: "Grace Brewster Hopper", Email: "grace@example.com"}, newLink(1))))
	if err != nil {
		t.Fatal(err)
	}
	got, err = sdk(srv).Customer().Find(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.FirstName != "Grace" || got.LastName != "Brewster Hopper" || got.Company != "" {
		t.Errorf("split name = %q / %q (company %q), want Grace / Brewster Hopper", got.FirstName, got.LastName, got.Company)
	}
	if n := emu.CustomerCount(); n != 2 {
		t.Errorf("CustomerCount = %d, want 2", n)
	}
}

func TestCreateCustomerRetryAdoptsEarlierAttempt(t *testing.T) {
	t.Parallel()
	p, emu, _ := start(t)
	ctx := context.Background()
	cust := &paysync.Customer{FirstName: "Ada", Email: "ada@example.com"}
	link := newLink(3)

	first, err := idOf(p.CreateCustomer(ctx, request(cust, link)))
	if err != nil {
		t.Fatal(err)
	}
	// The retry meets 91609 "Customer ID has already been taken" and adopts.
	second, err := idOf(p.CreateCustomer(ctx, request(cust, link)))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if second != first {
		t.Errorf("retry returned %q, want %q", second, first)
	}
	if n := emu.CustomerCount(); n != 1 {
		t.Fatalf("CustomerCount = %d after a retry, want 1", n)
	}

	// Concurrent attempts of one generation still make one customer.
	racing := newLink(1)
	ids := make([]string, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = idOf(p.CreateCustomer(ctx, request(cust, racing)))
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != braintree.CustomerID(racing) {
			t.Errorf("attempt %d = %q, %v; want %q", i, ids[i], errs[i], braintree.CustomerID(racing))
		}
	}

	// A new generation is new work: a second customer.
	next := *link
	next.Generation++
	third, err := idOf(p.CreateCustomer(ctx, request(cust, &next)))
	if err != nil {
		t.Fatal(err)
	}
	if third == first {
		t.Errorf("generation %d reused the id %q of generation %d", next.Generation, third, link.Generation)
	}
	if n := emu.CustomerCount(); n != 3 {
		t.Errorf("CustomerCount = %d, want 3", n)
	}
}

func TestCustomerStatusFollowsPaymentMethods(t *testing.T) {
	t.Parallel()
	p, emu, _ := start(t)
	ctx := context.Background()
	id, err := idOf(p.CreateCustomer(ctx, request(&paysync.Customer{Email: "pm@example.com"}, newLink(1))))
	if err != nil {
		t.Fatal(err)
	}
	status := func(want bool) {
		t.Helper()
		st, err := p.CustomerStatus(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.HasPaymentMethod != want {
			t.Errorf("HasPaymentMethod = %v, want %v", st.HasPaymentMethod, want)
		}
	}
	status(false)
	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	status(true)
	if err := emu.RevokePaymentMethods(id); err != nil {
		t.Fatal(err)
	}
	status(false)
}

// TestCustomerStatusSeesTypesBraintreeGoLacks serves a customer whose only
// payment method is a US bank account, which braintree-go v0.22.0 does
// not model, gzipped as Braintree answers.
func TestCustomerStatusSeesTypesBraintreeGoLacks(t *testing.T) {
	t.Parallel()
	body := func(accounts string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		fmt.Fprintf(zw, `<?xml version="1.0" encoding="UTF-8"?>
<customer>
  <id>c1</id>
  <credit-cards type="array"/>
  <paypal-accounts type="array"/>
  %s
</customer>
`, accounts)
		zw.Close()
		return b.Bytes()
	}
	withBank := body(`<us-bank-accounts type="array"><us-bank-account><token>ach1</token><default type="boolean">true</default></us-bank-account></us-bank-accounts>`)
	without := body(`<us-bank-accounts type="array"/>`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		if strings.HasSuffix(r.URL.Path, "/customers/with-bank") {
			w.Write(withBank)
			return
		}
		w.Write(without)
	}))
	defer srv.Close()
	p, err := braintree.New(paysync.Connection{BaseURL: srv.URL, Credentials: credentials()}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"with-bank": true, "without": false} {
		st, err := p.CustomerStatus(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if st.HasPaymentMethod != want {
			t.Errorf("%s: HasPaymentMethod = %v, want %v", id, st.HasPaymentMethod, want)
		}
	}
}

func TestErrorsAreClassified(t *testing.T) {
	t.Parallel()
	p, emu, srv := start(t)
	ctx := context.Background()
	known, err := idOf(p.CreateCustomer(ctx, request(&paysync.Customer{Email: "known@example.com"}, newLink(1))))
	if err != nil {
		t.Fatal(err)
	}
	withCreds := func(f func(map[string]string)) *braintree.Provider {
		c := credentials()
		f(c)
		bad, err := braintree.New(paysync.Connection{BaseURL: srv.URL, Credentials: c}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		return bad
	}

	tests := []struct {
		name       string
		faults     fault.Settings
		call       func(ctx context.Context) error
		timeout    time.Duration
		code       string
		status     int
		retryable  bool
		retryAfter time.Duration
	}{
		{name: "server error", faults: fault.Settings{FailNext: 1, Fail: fault.ServerError},
			code: "server_error", status: 500, retryable: true},
		{name: "down for maintenance", faults: fault.Settings{FailNext: 1, Fail: fault.ServerError, Status: 503},
			code: "service_unavailable", status: 503, retryable: true},
		{name: "rate limited", faults: fault.Settings{FailNext: 1, Fail: fault.RateLimited, RetryAfter: 3 * time.Second},
			code: "too_many_requests", status: 429, retryable: true, retryAfter: 3 * time.Second},
		{name: "timeout", faults: fault.Settings{FailNext: 1, Fail: fault.Timeout}, timeout: 200 * time.Millisecond,
			code: "timeout", retryable: true},
		{name: "bad private key", code: "authentication_error", status: 401,
			call: func(ctx context.Context) error {
				_, err := withCreds(func(c map[string]string) { c["private_key"] = "wrong" }).CustomerStatus(ctx, known)
				return err
			}},
		{name: "other merchant", code: "authorization_error", status: 403,
			call: func(ctx context.Context) error {
				_, err := withCreds(func(c map[string]string) { c["merchant_id"] = "someone_else" }).CustomerStatus(ctx, known)
				return err
			}},
		{name: "unknown customer", code: paysync.CodeCustomerNotFound, status: 404,
			call: func(ctx context.Context) error {
				_, err := p.CustomerStatus(ctx, "no_such_customer")
				return err
			}},
		{name: "validation error", code: "81604", status: 422,
			call: func(ctx context.Context) error {
				_, err := p.CreateCustomer(ctx, request(&paysync.Customer{Email: "not an email"}, newLink(1)))
				return err
			}},
	}
	// Subtests share the emulator's fault plan, so they run in sequence.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu.Faults.Set(tt.faults)
			defer emu.Faults.Reset()
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			call := tt.call
			if call == nil {
				call = func(ctx context.Context) error { _, err := p.CustomerStatus(ctx, known); return err }
			}
			err := call(ctx)
			if err == nil {
				t.Fatal("no error")
			}
			pe := providerError(t, err)
			if pe.Code != tt.code || pe.HTTPStatus != tt.status || pe.Retryable != tt.retryable || pe.RetryAfter != tt.retryAfter {
				t.Errorf("got %+v, want code %q status %d retryable %v retry after %s", pe, tt.code, tt.status, tt.retryable, tt.retryAfter)
			}
			if paysync.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v", !tt.retryable)
			}
		})
	}
	if n := emu.Faults.Injected(); n != 4 {
		t.Errorf("faults injected = %d, want 4", n)
	}
}

// TestStatusesTheEmulatorCannotProvoke covers answers braintree-go's own
// requests never draw from the emulator.
func TestStatusesTheEmulatorCannotProvoke(t *testing.T) {
	t.Parallel()
	var status atomic.Int64
	var header atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := header.Load().(string); ok && h != "" {
			w.Header().Set("Retry-After", h)
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	p, err := braintree.New(paysync.Connection{BaseURL: srv.URL, Credentials: credentials()}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tt := range []struct {
		status     int
		retryAfter string
		code       string
		retryable  bool
	}{
		{426, "", "upgrade_required", false},
		{429, future, "too_many_requests", true},
		{502, "", "server_error", true},
		{504, "", "timeout", true},
		{408, "", "timeout", true},
		{400, "", "http_400", false},
		{201, "", "unexpected_response", true},
	} {
		status.Store(int64(tt.status))
		header.Store(tt.retryAfter)
		_, err := p.CustomerStatus(context.Background(), "c1")
		pe := providerError(t, err)
		if pe.Code != tt.code || pe.Retryable != tt.retryable || pe.HTTPStatus != tt.status {
			t.Errorf("%d: got %+v, want code %q retryable %v", tt.status, pe, tt.code, tt.retryable)
		}
		if tt.retryAfter != "" && (pe.RetryAfter < 58*time.Minute || pe.RetryAfter > time.Hour) {
			t.Errorf("%d: RetryAfter = %s from an HTTP date an hour ahead", tt.status, pe.RetryAfter)
		}
	}
}

// A call cancelled in flight is retryable "canceled", as in every adapter.
func TestCancelledCallIsRetryable(t *testing.T) {
	t.Parallel()
	p, emu, _ := start(t)
	emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.Timeout})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := p.CustomerStatus(ctx, "c1")
	pe := providerError(t, err)
	if !pe.Retryable || pe.Code != "canceled" || pe.HTTPStatus != 0 {
		t.Errorf("got %+v, want a retryable canceled without a status", pe)
	}
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	p, err := braintree.New(paysync.Connection{BaseURL: url, Credentials: credentials()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.CreateCustomer(context.Background(), request(&paysync.Customer{Email: "a@example.com"}, newLink(1)))
	pe := providerError(t, err)
	if !pe.Retryable || pe.Code != paysync.CodeNotSent || pe.Ambiguous() {
		t.Errorf("got %+v, want a retryable, unambiguous not_sent", pe)
	}
}

func TestCustomerIDScheme(t *testing.T) {
	t.Parallel()
	p, _, _ := start(t)
	allowed := regexp.MustCompile(`^[A-Za-z0-9_-]{1,36}$`)
	links := []*paysync.ProviderLink{
		{ID: "0B5F3C2E-7D41-4A8E-9C1B-000000000001", Generation: 0},
		{ID: "0b5f3c2e-7d41-4a8e-9c1b-000000000001", Generation: 1},
		{ID: "0b5f3c2e-7d41-4a8e-9c1b-000000000001", Generation: 35},
		{ID: "0b5f3c2e-7d41-4a8e-9c1b-000000000001", Generation: 36},
		{ID: "0b5f3c2e-7d41-4a8e-9c1b-000000000001", Generation: 1295},
		{ID: "0b5f3c2e-7d41-4a8e-9c1b-000000000001", Generation: 1296},
		{ID: "0b5f3c2e-7d41-4a8e-9c1b-000000000001", Generation: 1 << 40},
		{ID: "lnk_not-a-uuid", Generation: 1},
		{ID: "lnk_not-a-uuid", Generation: 2},
	}
	seen := map[string]int{}
	for i, l := range links {
		id := braintree.CustomerID(l)
		if again := braintree.CustomerID(&paysync.ProviderLink{ID: l.ID, Generation: l.Generation}); again != id {
			t.Errorf("%s/%d: %q then %q", l.ID, l.Generation, id, again)
		}
		if !allowed.MatchString(id) {
			t.Errorf("%s/%d: %q is not a valid Braintree customer id", l.ID, l.Generation, id)
		}
		if j, dup := seen[id]; dup {
			t.Errorf("links %d and %d share id %q", j, i, id)
		}
		seen[id] = i
	}
	if got, want := braintree.CustomerID(links[1]), "ps0b5f3c2e7d414a8e9c1b0000000000011"; got != want {
		t.Errorf("CustomerID = %q, want %q (the link's hex digits, then the generation)", got, want)
	}
	upper, lower := *links[0], *links[0]
	lower.ID = strings.ToLower(upper.ID)
	if braintree.CustomerID(&upper) != braintree.CustomerID(&lower) {
		t.Error("the id depends on the case of the link's UUID")
	}
	// The emulator enforces Braintree's id rules: every scheme must pass.
	for _, l := range links {
		if _, err := p.CreateCustomer(context.Background(), request(&paysync.Customer{Email: "id@example.com"}, l)); err != nil {
			t.Errorf("%s/%d: %v", l.ID, l.Generation, err)
		}
	}
}

func TestNewCredentials(t *testing.T) {
	t.Parallel()
	for _, field := range []string{"merchant_id", "public_key", "private_key"} {
		c := credentials()
		delete(c, field)
		_, err := braintree.New(paysync.Connection{Credentials: c}, nil)
		if err == nil || !strings.Contains(err.Error(), "credentials."+field+" is required") {
			t.Errorf("without %s: error %v", field, err)
		}
	}
	c := credentials()
	c["environment"] = "staging"
	if _, err := braintree.New(paysync.Connection{Credentials: c}, nil); err == nil || !strings.Contains(err.Error(), "credentials.environment") {
		t.Errorf("environment staging: error %v", err)
	}
	c["environment"] = "production"
	if _, err := braintree.New(paysync.Connection{Credentials: c}, nil); err != nil {
		t.Errorf("environment production: %v", err)
	}

	// A sandbox connection without credentials talks to the emulator with
	// its built-in keys, through the client it was given.
	srv := httptest.NewServer(braintreeemu.New())
	defer srv.Close()
	var calls atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return srv.Client().Transport.RoundTrip(r)
	})}
	p, err := braintree.New(paysync.Connection{Sandbox: true, BaseURL: srv.URL + "/", Credentials: sandbox.Credentials(paysync.Braintree)}, client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateCustomer(context.Background(), request(&paysync.Customer{Email: "sb@example.com"}, newLink(1))); err != nil {
		t.Fatalf("sandbox credentials: %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("the given client carried %d requests, want 1", calls.Load())
	}
}

// TestSandboxInProcess runs the adapter as embedded mode wires it: a
// sandbox connection with the sandbox's credentials, served by the
// emulator in-process.
func TestSandboxInProcess(t *testing.T) {
	t.Parallel()
	emu := braintreeemu.New()
	p, err := braintree.New(paysync.Connection{Provider: paysync.Braintree, Code: "braintree", Sandbox: true, Credentials: sandbox.Credentials(paysync.Braintree)},
		&http.Client{Transport: providers.HandlerTransport{Handler: emu}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := idOf(p.CreateCustomer(ctx, request(&paysync.Customer{Name: "Sandbox Customer"}, newLink(1))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	st, err := p.CustomerStatus(ctx, id)
	if err != nil || !st.HasPaymentMethod {
		t.Errorf("status = %+v, %v; want a payment method", st, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
