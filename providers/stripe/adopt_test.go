package stripe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers/fault"
	"github.com/paysync/paysync/providers/stripe"
	"github.com/paysync/paysync/providers/stripeemu"
)

// lagging stands for Stripe's search index, which may show a new customer
// only up to a minute after its create: while lag is on, every customer
// search finds nothing.
type lagging struct {
	next http.Handler
	lag  atomic.Bool
}

func (l *lagging) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.lag.Load() && r.Method == http.MethodGet && r.URL.Path == "/v1/customers/search" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"search_result","url":"/v1/customers/search","has_more":false,"next_page":null,"data":[]}`)
		return
	}
	l.next.ServeHTTP(w, r)
}

// recorded starts an emulator behind a lagging search, and an adapter
// whose requests are recorded.
func recorded(t *testing.T) (*stripeemu.Emulator, *lagging, *stripe.Provider, *recorder) {
	t.Helper()
	emu := stripeemu.New()
	lag := &lagging{next: emu}
	srv := httptest.NewServer(lag)
	t.Cleanup(srv.Close)
	p, rec := newProvider(t, srv.URL, "sk_test_adopt")
	return emu, lag, p, rec
}

// calls lists the requests sent since the first skip ones, as "METHOD path".
func calls(rec *recorder, skip int) string {
	var out []string
	for _, r := range rec.requests()[skip:] {
		out = append(out, r.Method+" "+r.Path)
	}
	return strings.Join(out, ", ")
}

func tryCreate(p *stripe.Provider, c *paysync.Customer, link *paysync.ProviderLink) (string, error) {
	return p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()})
}

const (
	search = "GET /v1/customers/search"
	post   = "POST /v1/customers"
)

// TestCreateCustomerOneCustomerPerLink covers the ways an earlier call may
// have created the link's customer without paysync knowing: each must end
// with that customer, never a second one.
func TestCreateCustomerOneCustomerPerLink(t *testing.T) {
	t.Run("the first attempt of generation 1 only creates", func(t *testing.T) {
		t.Parallel()
		emu, _, p, rec := recorded(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		id, err := tryCreate(p, c, link)
		if err != nil {
			t.Fatal(err)
		}
		// The common path stays at one call: no search.
		if got := calls(rec, 0); got != post {
			t.Errorf("requests = %s, want only %s", got, post)
		}
		if !strings.HasPrefix(id, "cus_") || emu.CustomerCount() != 1 {
			t.Errorf("id %q, %d customers", id, emu.CustomerCount())
		}
	})

	t.Run("a field changed between attempts adopts the first customer", func(t *testing.T) {
		t.Parallel()
		emu, _, p, rec := recorded(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		first, err := tryCreate(p, c, link)
		if err != nil {
			t.Fatal(err)
		}
		// Say the first result was never recorded; the client updated the
		// email meanwhile, so the same key now comes with another body.
		link.Attempts = 1
		c.Email = "new-billing@example.com"
		n := len(rec.requests())
		again, err := tryCreate(p, c, link)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Errorf("second attempt = %q, want the first customer %q", again, first)
		}
		if got := calls(rec, n); got != search {
			t.Errorf("second attempt sent %s, want only %s", got, search)
		}
		if q := rec.requests()[n].Form.Get("query"); q != stripe.SearchQuery("lnk_0001") {
			t.Errorf("query = %q", q)
		}
		if k := emu.CustomerCount(); k != 1 {
			t.Errorf("CustomerCount = %d, want 1", k)
		}
	})

	t.Run("an idempotency_error the search cannot resolve yet is retried after a minute", func(t *testing.T) {
		t.Parallel()
		emu, lag, p, rec := recorded(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		first, err := tryCreate(p, c, link)
		if err != nil {
			t.Fatal(err)
		}
		// The index has not caught up with the create yet.
		lag.lag.Store(true)
		link.Attempts = 1
		c.Email = "new-billing@example.com"
		n := len(rec.requests())
		_, err = tryCreate(p, c, link)
		pe := providerError(t, err)
		if !pe.Retryable || !paysync.IsRetryable(err) || pe.RetryAfter < time.Minute || pe.Code != "idempotency_error" || pe.HTTPStatus != 400 {
			t.Errorf("error = %+v (RetryAfter %s), want retryable idempotency_error after at least 1m", pe, pe.RetryAfter)
		}
		if got, want := calls(rec, n), search+", "+post+", "+search; got != want {
			t.Errorf("requests = %s, want %s", got, want)
		}
		// A minute later the search finds the customer.
		lag.lag.Store(false)
		link.Attempts = 2
		if again, err := tryCreate(p, c, link); err != nil || again != first {
			t.Errorf("third attempt = %q, %v; want the first customer %q", again, err, first)
		}
		if k := emu.CustomerCount(); k != 1 {
			t.Errorf("CustomerCount = %d, want 1", k)
		}
	})

	t.Run("an idempotency_error the search resolves adopts the customer", func(t *testing.T) {
		t.Parallel()
		emu, _, p, rec := recorded(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		// The earlier attempt's result was lost before it was counted, so
		// this one does not search first; the key's body has changed.
		first, err := tryCreate(p, c, link)
		if err != nil {
			t.Fatal(err)
		}
		c.Email = "new-billing@example.com"
		n := len(rec.requests())
		again, err := tryCreate(p, c, link)
		if err != nil || again != first {
			t.Errorf("retry = %q, %v; want the first customer %q", again, err, first)
		}
		if got, want := calls(rec, n), post+", "+search; got != want {
			t.Errorf("requests = %s, want %s", got, want)
		}
		if k := emu.CustomerCount(); k != 1 {
			t.Errorf("CustomerCount = %d, want 1", k)
		}
	})

	t.Run("generation 2 adopts generation 1's customer", func(t *testing.T) {
		t.Parallel()
		emu, _, p, rec := recorded(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		first, err := tryCreate(p, c, link)
		if err != nil {
			t.Fatal(err)
		}
		// Generation 1 ended failed without its result (the last attempt
		// timed out after Stripe created the customer); a resync starts
		// generation 2 under a new key, minutes later.
		next := *link
		next.Generation, next.Attempts, next.PendingSince = 2, 0, time.Now()
		n := len(rec.requests())
		again, err := tryCreate(p, c, &next)
		if err != nil || again != first {
			t.Errorf("generation 2 = %q, %v; want generation 1's customer %q", again, err, first)
		}
		if got := calls(rec, n); got != search {
			t.Errorf("requests = %s, want only %s", got, search)
		}
		if k := emu.CustomerCount(); k != 1 {
			t.Errorf("CustomerCount = %d, want 1", k)
		}
	})

	t.Run("a 5xx after the create ran adopts the customer", func(t *testing.T) {
		t.Parallel()
		emu, _, p, rec := recorded(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		// Stripe created the customer, then answered 500 and saved that
		// under the key: a retry would only get the 500 again.
		emu.FailNextAfterRun(1)
		id, err := tryCreate(p, c, link)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := calls(rec, 0), post+", "+search; got != want {
			t.Errorf("requests = %s, want %s", got, want)
		}
		if _, ok := emu.Customer(id); !ok || emu.CustomerCount() != 1 {
			t.Errorf("adopted %q (known %v), %d customers; want the one customer", id, ok, emu.CustomerCount())
		}
	})

	t.Run("a 5xx with no customer found is retried after a minute", func(t *testing.T) {
		t.Parallel()
		emu, _, p, rec := recorded(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		// A fault in front of Stripe: nothing ran, nothing is saved.
		emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.ServerError})
		_, err := tryCreate(p, c, link)
		pe := providerError(t, err)
		if !pe.Retryable || pe.RetryAfter < time.Minute || pe.Code != "api_error" || pe.HTTPStatus != 500 {
			t.Errorf("error = %+v (RetryAfter %s), want retryable api_error after at least 1m", pe, pe.RetryAfter)
		}
		if got, want := calls(rec, 0), post+", "+search; got != want {
			t.Errorf("requests = %s, want %s", got, want)
		}
		link.Attempts = 1
		n := len(rec.requests())
		id, err := tryCreate(p, c, link)
		if err != nil || !strings.HasPrefix(id, "cus_") {
			t.Fatalf("retry = %q, %v", id, err)
		}
		if got, want := calls(rec, n), search+", "+post; got != want {
			t.Errorf("retry sent %s, want %s", got, want)
		}
		if k := emu.CustomerCount(); k != 1 {
			t.Errorf("CustomerCount = %d, want 1", k)
		}
	})

	t.Run("the oldest of several customers of the link is adopted", func(t *testing.T) {
		t.Parallel()
		emu, _, p, _ := recorded(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		oldest, err := tryCreate(p, c, link)
		if err != nil {
			t.Fatal(err)
		}
		// A duplicate made under another key, as before this fix, two
		// seconds later (Created counts seconds); the search lists it first.
		emu.Advance(2 * time.Second)
		if _, err := p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: "legacy-duplicate"}); err != nil {
			t.Fatal(err)
		}
		if k := emu.CustomerCount(); k != 2 {
			t.Fatalf("CustomerCount = %d, want 2", k)
		}
		next := *link
		next.Generation = 2
		if got, err := tryCreate(p, c, &next); err != nil || got != oldest {
			t.Errorf("adopted %q, %v; want the oldest %q", got, err, oldest)
		}
		if k := emu.CustomerCount(); k != 2 {
			t.Errorf("CustomerCount = %d, want still 2", k)
		}
	})
}
