package providers

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
)

// echo is an adapter that reports what its client reached.
type echo struct {
	client *http.Client
	base   string
}

func (e *echo) CreateCustomer(ctx context.Context, _ paysync.CreateCustomerRequest) (paysync.ProviderCustomer, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/v1/ping?x=1", nil)
	resp, err := e.client.Do(req)
	if err != nil {
		return paysync.ProviderCustomer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return paysync.ProviderCustomer{ID: string(b)}, nil
}

func (e *echo) CustomerStatus(context.Context, string) (paysync.CustomerStatus, error) {
	return paysync.CustomerStatus{}, nil
}

func newEcho(c paysync.Connection, h *http.Client) (paysync.Provider, error) {
	base := c.BaseURL
	if base == "" {
		base = "http://api.example.test"
	}
	return &echo{client: h, base: base}, nil
}

func TestRegistryFindsConnectionsAndServesBaseURLsInProcess(t *testing.T) {
	emulator := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The emulator sees the path below its mount, and the public host.
		_, _ = io.WriteString(w, r.Host+" "+r.URL.Path+" "+r.URL.RawQuery)
	})
	reg, err := NewRegistry([]paysync.Connection{
		{OrganizationID: "o1", Provider: paysync.Stripe, Code: "b"},
		{OrganizationID: "o1", Provider: paysync.Stripe, Code: "a", Sandbox: true, BaseURL: "http://public.test/sandbox/stripe"},
		{OrganizationID: "o2", Provider: paysync.Adyen, Code: "adyen", Sandbox: true},
		{OrganizationID: "o2", Provider: paysync.Stripe, Code: "net", BaseURL: "http://127.0.0.1:1"},
	}, map[paysync.ProviderKind]Factory{paysync.Stripe: newEcho, paysync.Adyen: newEcho},
		Options{InProcess: map[string]http.Handler{"http://public.test/sandbox/stripe": emulator}})
	if err != nil {
		t.Fatal(err)
	}
	if l := reg.List("o1", paysync.Stripe); len(l) != 2 || l[0].Code != "a" {
		t.Errorf("List: %+v", l)
	}
	if l := reg.List("o1", paysync.Adyen); len(l) != 0 {
		t.Errorf("another organization's connection leaked: %+v", l)
	}
	if _, err := reg.Provider("o2", paysync.Stripe, "a"); paysync.ErrorCode(err) != paysync.ENOTFOUND {
		t.Errorf("another organization's connection: %v", err)
	}
	p, err := reg.Provider("o1", paysync.Stripe, "a")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{})
	if err != nil || got.ID != "public.test /v1/ping x=1" {
		t.Errorf("in-process call: %q, %v", got.ID, err)
	}
	// A base URL that is not served in-process goes to the network.
	p, _ = reg.Provider("o2", paysync.Stripe, "net")
	if got, err := p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{}); err == nil {
		t.Errorf("a base URL without an in-process handler answered in-process: %q", got.ID)
	}
	if s := reg.Sandboxes(paysync.Adyen); len(s) != 1 || s[0].OrganizationID != "o2" {
		t.Errorf("Sandboxes: %+v", s)
	}
	_, err = NewRegistry([]paysync.Connection{{OrganizationID: "o", Provider: paysync.Braintree, Code: "x"}}, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "braintree/x") {
		t.Errorf("a connection without an adapter must fail start-up naming it: %v", err)
	}
}

// The limiter holds requests back instead of letting them through to
// collect 429s: 12 calls at 10/s (burst 10) cannot finish in under 0.2 s.
func TestRateLimitHoldsRequests(t *testing.T) {
	reg, err := NewRegistry([]paysync.Connection{{OrganizationID: "o", Provider: paysync.Stripe, Code: "s", BaseURL: "http://in.process", RateLimit: 10}},
		map[paysync.ProviderKind]Factory{paysync.Stripe: newEcho},
		Options{InProcess: map[string]http.Handler{"http://in.process": http.NotFoundHandler()}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Provider("o", paysync.Stripe, "s")
	start := time.Now()
	for range 12 {
		if _, err := p.CreateCustomer(context.Background(), paysync.CreateCustomerRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if elapsed := time.Since(start); elapsed < 190*time.Millisecond {
		t.Errorf("12 calls at 10/s took %s", elapsed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	for range 20 {
		if _, err := p.CreateCustomer(ctx, paysync.CreateCustomerRequest{}); err != nil {
			return // the wait respects the caller's deadline
		}
	}
	t.Error("a request waited past its context's deadline")
}
