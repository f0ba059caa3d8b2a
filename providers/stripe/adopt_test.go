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
	"github.com/paysync/paysync/providers/stripe"
	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/stripeemu"
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

// adoption is one subtest's world: an emulator behind a lagging search, an
// adapter whose requests are recorded, and a customer whose link is at the
// first attempt of generation 1, pending since now.
type adoption struct {
	emu  *stripeemu.Emulator
	lag  *lagging
	p    *stripe.Provider
	rec  *recorder
	c    *paysync.Customer
	link *paysync.ProviderLink
}

func newAdoption(t *testing.T) *adoption {
	t.Helper()
	emu := stripeemu.New()
	lag := &lagging{next: emu}
	srv := httptest.NewServer(lag)
	t.Cleanup(srv.Close)
	p, rec := newProvider(t, srv.URL, "sk_test_adopt")
	c, link := fullCustomer()
	link.PendingSince = time.Now()
	return &adoption{emu: emu, lag: lag, p: p, rec: rec, c: c, link: link}
}

// try runs CreateCustomer for the customer under link, with link's key.
func (a *adoption) try(link *paysync.ProviderLink) (string, error) {
	return idOf(a.p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: a.c, Link: link, IdempotencyKey: link.IdempotencyKey()}))
}

// create is try under a's own link, which must succeed.
func (a *adoption) create(t *testing.T) string {
	t.Helper()
	id, err := a.try(a.link)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sent is how many requests the adapter has sent so far.
func (a *adoption) sent() int { return len(a.rec.requests()) }

// wantCalls checks the requests sent since the first skip ones, as
// "METHOD path" joined by ", ".
func (a *adoption) wantCalls(t *testing.T, what string, skip int, want string) {
	t.Helper()
	var out []string
	for _, r := range a.rec.requests()[skip:] {
		out = append(out, r.Method+" "+r.Path)
	}
	if got := strings.Join(out, ", "); got != want {
		t.Errorf("%s sent %s, want %s", what, got, want)
	}
}

// wantCustomers checks how many customers the emulator holds.
func (a *adoption) wantCustomers(t *testing.T, n int) bool {
	t.Helper()
	if k := a.emu.CustomerCount(); k != n {
		t.Errorf("CustomerCount = %d, want %d", k, n)
		return false
	}
	return true
}

const (
	search = "GET /v1/customers/search"
	post   = "POST /v1/customers"
)

// reads is the status read of an adopted customer that has no default
// payment method: the customer, then its payment methods.
func reads(id string) string {
	return "GET /v1/customers/" + id + ", GET /v1/customers/" + id + "/payment_methods"
}

// lost says the link's last attempt ended without an answer after its
// request was sent: its create may have gone through.
var lost = &paysync.ProviderError{Provider: paysync.Stripe, Code: "timeout", Retryable: true}

// TestCreateCustomerOneCustomerPerLink covers the ways an earlier call may
// have created the link's customer without paysync knowing: each must end
// with that customer, never a second one.
func TestCreateCustomerOneCustomerPerLink(t *testing.T) {
	t.Run("the first attempt of generation 1 only creates", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		id := a.create(t)
		// The common path stays at one call: no search.
		a.wantCalls(t, "the attempt", 0, post)
		if !strings.HasPrefix(id, "cus_") {
			t.Errorf("id %q, want a cus_ id", id)
		}
		a.wantCustomers(t, 1)
	})

	t.Run("a field changed between attempts adopts the first customer", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		first := a.create(t)
		// Say the first result was never recorded; the client updated the
		// email meanwhile, so the same key now comes with another body.
		a.link.Attempts, a.link.LastError = 1, lost
		a.c.Email = "new-billing@example.com"
		n := a.sent()
		again, err := a.try(a.link)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Errorf("second attempt = %q, want the first customer %q", again, first)
		}
		a.wantCalls(t, "second attempt", n, search+", "+reads(first))
		if q := a.rec.requests()[n].Form.Get("query"); q != stripe.SearchQuery("lnk_0001") {
			t.Errorf("query = %q", q)
		}
		a.wantCustomers(t, 1)
	})

	t.Run("an idempotency_error the search cannot resolve yet is retried after a minute", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		first := a.create(t)
		// The index has not caught up with the create yet.
		a.lag.lag.Store(true)
		a.link.Attempts, a.link.LastError = 1, lost
		a.c.Email = "new-billing@example.com"
		n := a.sent()
		_, err := a.try(a.link)
		pe := providerError(t, err)
		if !pe.Retryable || !paysync.IsRetryable(err) || pe.RetryAfter < time.Minute || pe.Code != "idempotency_error" || pe.HTTPStatus != 400 {
			t.Errorf("error = %+v (RetryAfter %s), want retryable idempotency_error after at least 1m", pe, pe.RetryAfter)
		}
		a.wantCalls(t, "second attempt", n, search+", "+post+", "+search)
		// A minute later the search finds the customer.
		a.lag.lag.Store(false)
		a.link.Attempts, a.link.LastError = 2, pe
		if again, err := a.try(a.link); err != nil || again != first {
			t.Errorf("third attempt = %q, %v; want the first customer %q", again, err, first)
		}
		a.wantCustomers(t, 1)
	})

	t.Run("an idempotency_error the search resolves adopts the customer", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		// The earlier attempt's result was lost before it was counted, so
		// this one does not search first; the key's body has changed.
		first := a.create(t)
		a.c.Email = "new-billing@example.com"
		n := a.sent()
		again, err := a.try(a.link)
		if err != nil || again != first {
			t.Errorf("retry = %q, %v; want the first customer %q", again, err, first)
		}
		a.wantCalls(t, "retry", n, post+", "+search+", "+reads(first))
		a.wantCustomers(t, 1)
	})

	t.Run("generation 2 adopts generation 1's customer", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		first := a.create(t)
		// Generation 1 ended failed without its result (the last attempt
		// timed out after Stripe created the customer); a resync starts
		// generation 2 under a new key, minutes later.
		next := *a.link
		next.Generation, next.Attempts, next.PendingSince = 2, 0, time.Now()
		n := a.sent()
		again, err := a.try(&next)
		if err != nil || again != first {
			t.Errorf("generation 2 = %q, %v; want generation 1's customer %q", again, err, first)
		}
		a.wantCalls(t, "generation 2", n, search+", "+reads(first))
		a.wantCustomers(t, 1)
	})

	t.Run("a 5xx after the create ran adopts the customer", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		// Stripe created the customer, then answered 500 and saved that
		// under the key: a retry would only get the 500 again.
		a.emu.FailNextAfterRun(1)
		id := a.create(t)
		a.wantCalls(t, "the attempt", 0, post+", "+search+", "+reads(id))
		if _, ok := a.emu.Customer(id); !ok || a.emu.CustomerCount() != 1 {
			t.Errorf("adopted %q (known %v), %d customers; want the one customer", id, ok, a.emu.CustomerCount())
		}
	})

	t.Run("a 5xx with no customer found is retried after a minute", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		// A fault in front of Stripe: nothing ran, nothing is saved.
		a.emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.ServerError})
		_, err := a.try(a.link)
		pe := providerError(t, err)
		if !pe.Retryable || pe.RetryAfter < time.Minute || pe.Code != "api_error" || pe.HTTPStatus != 500 {
			t.Errorf("error = %+v (RetryAfter %s), want retryable api_error after at least 1m", pe, pe.RetryAfter)
		}
		a.wantCalls(t, "the attempt", 0, post+", "+search)
		a.link.Attempts, a.link.LastError = 1, pe
		n := a.sent()
		id, err := a.try(a.link)
		if err != nil || !strings.HasPrefix(id, "cus_") {
			t.Fatalf("retry = %q, %v", id, err)
		}
		a.wantCalls(t, "retry", n, search+", "+post)
		a.wantCustomers(t, 1)
	})

	t.Run("the oldest of several customers of the link is adopted", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		oldest := a.create(t)
		// A duplicate made under another key, as before this fix, two
		// seconds later (Created counts seconds); the search lists it first.
		a.emu.Advance(2 * time.Second)
		if _, err := a.p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: a.c, Link: a.link, IdempotencyKey: "legacy-duplicate"}); err != nil {
			t.Fatal(err)
		}
		if !a.wantCustomers(t, 2) {
			t.FailNow()
		}
		next := *a.link
		next.Generation = 2
		if got, err := a.try(&next); err != nil || got != oldest {
			t.Errorf("adopted %q, %v; want the oldest %q", got, err, oldest)
		}
		a.wantCustomers(t, 2) // still 2: nothing new was created
	})

	t.Run("a retry after an unsent request or a 429 only creates", func(t *testing.T) {
		for _, last := range []*paysync.ProviderError{
			{Provider: paysync.Stripe, Code: paysync.CodeNotSent, Retryable: true},
			{Provider: paysync.Stripe, Code: "rate_limit", HTTPStatus: 429, Retryable: true},
		} {
			a := newAdoption(t)
			// Nothing reached Stripe, or Stripe refused it: nothing to find.
			a.link.Attempts, a.link.LastError = 1, last
			id := a.create(t)
			a.wantCalls(t, "a retry after "+last.Code, 0, post)
			if !strings.HasPrefix(id, "cus_") {
				t.Errorf("id %q, want a cus_ id", id)
			}
		}
	})

	t.Run("an idempotent replay is adopted and read", func(t *testing.T) {
		t.Parallel()
		a := newAdoption(t)
		first := a.create(t)
		// The first result was never recorded (a crash), so the retry is
		// still a first attempt; meanwhile a card was attached.
		if _, err := a.emu.AttachPaymentMethod(first); err != nil {
			t.Fatal(err)
		}
		n := a.sent()
		got, err := a.p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: a.c, Link: a.link, IdempotencyKey: a.link.IdempotencyKey()})
		if err != nil || got.ID != first || !got.HasPaymentMethod {
			t.Errorf("replayed create = %+v, %v; want %s with a payment method", got, err, first)
		}
		// The attached card is the invoice default: the customer alone tells.
		a.wantCalls(t, "the replay", n, post+", GET /v1/customers/"+first)
		a.wantCustomers(t, 1)
	})
}
