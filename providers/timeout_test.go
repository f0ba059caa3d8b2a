package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
	"github.com/paysync/paysync/providers/stripe"
	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// A provider that accepts the request and never answers fails the call
// after the connection's timeout, as a retryable timeout, so that it holds
// a worker slot for that long only.
func TestConnectionTimeoutBoundsAHungProvider(t *testing.T) {
	emu := stripeemu.New()
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.Timeout})

	reg, err := providers.NewRegistry([]paysync.Connection{{
		OrganizationID: "o", Provider: paysync.Stripe, Code: "s", BaseURL: hs.URL,
		Credentials: map[string]string{"secret_key": "sk_test_hang"}, Timeout: 200 * time.Millisecond,
	}}, map[paysync.ProviderKind]providers.Factory{
		paysync.Stripe: func(c paysync.Connection, h *http.Client) (paysync.Provider, error) { return stripe.New(c, h) },
	}, providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.Provider("o", paysync.Stripe, "s")
	if err != nil {
		t.Fatal(err)
	}
	req := paysync.CreateCustomerRequest{Customer: &paysync.Customer{ExternalID: "hung", Name: "Hung"}, IdempotencyKey: "hung-1"}
	start := time.Now()
	_, err = p.CreateCustomer(context.Background(), req)
	elapsed := time.Since(start)
	var pe *paysync.ProviderError
	if !errors.As(err, &pe) || pe.Code != "timeout" || !pe.Retryable {
		t.Fatalf("a hung call: %v (%#v), want a retryable timeout", err, pe)
	}
	if elapsed < 200*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("the hung call failed after %s, want about the 200ms connection timeout", elapsed)
	}
	// The fault was for one request: the next call goes through.
	if got, err := p.CreateCustomer(context.Background(), req); err != nil || got.ID == "" {
		t.Errorf("after the hang: %q, %v", got.ID, err)
	}
}
