package stripe_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers/stripe"
	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// emulated starts an emulator and an adapter pointed at it.
func emulated(t *testing.T) (*stripeemu.Emulator, *httptest.Server, *stripe.Provider) {
	t.Helper()
	emu := stripeemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	p, _ := newProvider(t, srv.URL, "sk_test_emulated")
	return emu, srv, p
}

func create(t *testing.T, p *stripe.Provider, c *paysync.Customer, link *paysync.ProviderLink) string {
	t.Helper()
	id, err := idOf(p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()}))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestEmulator(t *testing.T) {
	t.Run("a repeated create returns the same customer", func(t *testing.T) {
		t.Parallel()
		emu, _, p := emulated(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		first := create(t, p, c, link)
		second := create(t, p, c, link)
		if first != second || !strings.HasPrefix(first, "cus_") {
			t.Errorf("ids %q and %q, want one cus_ id", first, second)
		}
		if n := emu.CustomerCount(); n != 1 {
			t.Errorf("CustomerCount = %d, want 1", n)
		}
		got, _ := emu.Customer(first)
		if got.Email != c.Email || got.Metadata["paysync_link_id"] != "lnk_0001" || got.Metadata["paysync_generation"] != "1" ||
			got.Shipping == nil || got.Shipping.Address.Line1 != "2 Quai Branly" || got.Address == nil || got.Address.State != "IDF" {
			t.Errorf("stored customer = %+v", got)
		}
	})

	t.Run("after the key expired the search finds the customer", func(t *testing.T) {
		t.Parallel()
		emu, _, p := emulated(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		first := create(t, p, c, link)

		// A day later Stripe has forgotten the key; the link is still
		// pending (say the result was never recorded).
		emu.Advance(25 * time.Hour)
		link.PendingSince = time.Now().Add(-25 * time.Hour)
		if again := create(t, p, c, link); again != first {
			t.Errorf("create after key expiry = %q, want the first customer %q", again, first)
		}
		if n := emu.CustomerCount(); n != 1 {
			t.Errorf("CustomerCount = %d, want 1", n)
		}

		// Another generation of the link adopts it too (one link is one
		// customer); another link does not: the search is by link id.
		next := *link
		next.Generation++
		if id := create(t, p, c, &next); id != first {
			t.Errorf("generation 2 created %q, want generation 1's customer %q", id, first)
		}
		other := *link
		other.ID, other.PendingSince = "lnk_0002", time.Now()
		if id := create(t, p, c, &other); id == first {
			t.Error("another link adopted lnk_0001's customer")
		}
		if n := emu.CustomerCount(); n != 2 {
			t.Errorf("CustomerCount = %d, want 2", n)
		}
	})

	t.Run("the emulator forgets keys after 24h", func(t *testing.T) {
		// Without this, the test above would pass without the search.
		t.Parallel()
		emu, _, p := emulated(t)
		c, link := fullCustomer()
		link.PendingSince = time.Now()
		first := create(t, p, c, link)
		emu.Advance(25 * time.Hour)
		if again := create(t, p, c, link); again == first {
			t.Error("key replayed after 25h")
		}
	})

	t.Run("payment methods", func(t *testing.T) {
		t.Parallel()
		emu, _, p := emulated(t)
		c, link := fullCustomer()
		id := create(t, p, c, link)
		status := func() bool {
			t.Helper()
			st, err := p.CustomerStatus(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			return st.HasPaymentMethod
		}
		if status() {
			t.Error("HasPaymentMethod = true for a new customer")
		}
		if _, err := emu.AttachPaymentMethod(id); err != nil {
			t.Fatal(err)
		}
		if !status() {
			t.Error("HasPaymentMethod = false after AttachPaymentMethod")
		}
		if err := emu.DetachPaymentMethods(id); err != nil {
			t.Fatal(err)
		}
		if status() {
			t.Error("HasPaymentMethod = true after DetachPaymentMethods")
		}
	})

	t.Run("setup link", func(t *testing.T) {
		t.Parallel()
		_, srv, p := emulated(t)
		c, link := fullCustomer()
		id := create(t, p, c, link)
		u, err := p.SetupLink(context.Background(), c, id, "https://app.example.test/done", "setup-1")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u, srv.URL+"/checkout/cs_test_") {
			t.Fatalf("url = %q", u)
		}
		// Completing the hosted page saves a card on the customer.
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Post(u, "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://app.example.test/done" {
			t.Errorf("completion answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if st, err := p.CustomerStatus(context.Background(), id); err != nil || !st.HasPaymentMethod {
			t.Errorf("after checkout: %+v, %v", st, err)
		}
	})

	t.Run("server error is retryable", func(t *testing.T) {
		t.Parallel()
		emu, _, p := emulated(t)
		emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.ServerError})
		_, err := p.CustomerStatus(context.Background(), "cus_any")
		pe := providerError(t, err)
		if !pe.Retryable || pe.HTTPStatus != 500 || pe.Code != "api_error" {
			t.Errorf("error = %+v, want retryable 500 api_error", pe)
		}
	})

	t.Run("rate limit is retryable after Retry-After", func(t *testing.T) {
		t.Parallel()
		emu, _, p := emulated(t)
		emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.RateLimited, RetryAfter: 3 * time.Second})
		c, link := fullCustomer()
		_, err := p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()})
		pe := providerError(t, err)
		if !pe.Retryable || pe.HTTPStatus != 429 || pe.RetryAfter != 3*time.Second || pe.Code != "rate_limit" {
			t.Errorf("error = %+v (RetryAfter %s), want retryable 429 rate_limit after 3s", pe, pe.RetryAfter)
		}
		// The throttled request created nothing; the retry creates one.
		if id := create(t, p, c, link); emu.CustomerCount() != 1 || id == "" {
			t.Errorf("after retry: id %q, %d customers", id, emu.CustomerCount())
		}
	})

	// A call that ends before Stripe answers is retryable; a cancelled one
	// says canceled, as in every adapter (Stripe's used to say network_error).
	for _, tc := range []struct {
		name, code string
		ctx        func() (context.Context, context.CancelFunc)
	}{
		{"timeout is retryable", "timeout", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}},
		{"a cancelled call is retryable", "canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, _, p := emulated(t)
			emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.Timeout})
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := p.CustomerStatus(ctx, "cus_any")
			pe := providerError(t, err)
			if !pe.Retryable || pe.Code != tc.code || pe.HTTPStatus != 0 {
				t.Errorf("error = %+v, want retryable %s", pe, tc.code)
			}
		})
	}

	t.Run("a bad key is permanent", func(t *testing.T) {
		t.Parallel()
		_, srv, _ := emulated(t)
		p, _ := newProvider(t, srv.URL, "sk_live_wrongmode")
		_, err := p.CustomerStatus(context.Background(), "cus_any")
		pe := providerError(t, err)
		if pe.Retryable || pe.HTTPStatus != 401 || paysync.IsRetryable(err) {
			t.Errorf("error = %+v, want permanent 401", pe)
		}
		if strings.Contains(pe.Message, "wrongmode") && !strings.Contains(pe.Message, "****") {
			t.Errorf("message leaks the key: %q", pe.Message)
		}
	})

	t.Run("unknown customer", func(t *testing.T) {
		t.Parallel()
		_, _, p := emulated(t)
		_, err := p.CustomerStatus(context.Background(), "cus_doesnotexist")
		pe := providerError(t, err)
		if pe.Code != paysync.CodeCustomerNotFound || pe.Retryable || pe.HTTPStatus != 404 {
			t.Errorf("error = %+v, want permanent customer_not_found", pe)
		}
	})

	t.Run("deleted customer", func(t *testing.T) {
		t.Parallel()
		_, srv, p := emulated(t)
		c, link := fullCustomer()
		id := create(t, p, c, link)
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v1/customers/"+id, nil)
		req.Header.Set("Authorization", "Bearer sk_test_emulated")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE answered %d", resp.StatusCode)
		}
		_, err = p.CustomerStatus(context.Background(), id)
		pe := providerError(t, err)
		if pe.Code != paysync.CodeCustomerNotFound || pe.Retryable {
			t.Errorf("error = %+v, want permanent customer_not_found", pe)
		}
	})

	t.Run("an invalid email is permanent and not echoed", func(t *testing.T) {
		t.Parallel()
		emu, _, p := emulated(t)
		c, link := fullCustomer()
		c.Email = "not-an-email@"
		_, err := p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()})
		pe := providerError(t, err)
		if pe.Retryable || pe.Code != "email_invalid" || pe.HTTPStatus != 400 {
			t.Errorf("error = %+v, want permanent email_invalid", pe)
		}
		if strings.Contains(pe.Message, "not-an-email") || strings.Contains(err.Error(), "not-an-email") {
			t.Errorf("message carries the email: %q", pe.Message)
		}
		if emu.CustomerCount() != 0 {
			t.Error("a customer was created")
		}
	})
}

// TestNonStripeErrorBody covers an answer that is not Stripe's JSON, as a
// proxy or load balancer in front of Stripe would send.
func TestNonStripeErrorBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>502 Bad Gateway</html>"))
	}))
	t.Cleanup(srv.Close)
	p, _ := newProvider(t, srv.URL, "sk_test_x")
	_, err := p.CustomerStatus(context.Background(), "cus_x")
	pe := providerError(t, err)
	if !pe.Retryable || pe.HTTPStatus != http.StatusBadGateway || pe.RetryAfter != 7*time.Second {
		t.Errorf("error = %+v (RetryAfter %s), want retryable 502 after 7s", pe, pe.RetryAfter)
	}
}

// TestRequestTimeoutIsRetryable covers a 408: the server gave up waiting
// for the request, so another attempt may pass. Every adapter retries it
// (Stripe's used to give up).
func TestRequestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, contentType, body, code string
	}{
		{"Stripe's error JSON", "application/json", `{"error":{"type":"api_error","message":"Request timed out."}}`, "api_error"},
		{"a proxy's page", "text/html", "<html>408 Request Timeout</html>", "http_408"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusRequestTimeout)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			p, _ := newProvider(t, srv.URL, "sk_test_x")
			_, err := p.CustomerStatus(context.Background(), "cus_x")
			pe := providerError(t, err)
			if !pe.Retryable || !paysync.IsRetryable(err) || pe.HTTPStatus != http.StatusRequestTimeout || pe.Code != tc.code || pe.RetryAfter != 2*time.Second {
				t.Errorf("error = %+v (RetryAfter %s), want retryable 408 %s after 2s", pe, pe.RetryAfter, tc.code)
			}
		})
	}
}
