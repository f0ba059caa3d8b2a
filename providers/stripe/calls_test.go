package stripe_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// Provider calls as the emulator counts them: creating is one call, linking
// one when the customer names a default payment method and two otherwise.
func TestCallsCountedAtTheEmulator(t *testing.T) {
	emu := stripeemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	p, _ := newProvider(t, srv.URL, "sk_test_calls")
	ctx := context.Background()
	calls := func(what string, want int, do func()) {
		t.Helper()
		before := emu.Faults.Requests()
		do()
		if got := emu.Faults.Requests() - before; got != want {
			t.Errorf("%s: %d calls at the emulator, want %d", what, got, want)
		}
	}

	c, link := fullCustomer()
	var created paysync.ProviderCustomer
	calls("create", 1, func() {
		var err error
		created, err = p.CreateCustomer(ctx, paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()})
		if err != nil || created.ID == "" || created.HasPaymentMethod {
			t.Fatalf("create = %+v, %v", created, err)
		}
	})
	calls("link without a payment method", 2, func() {
		if st, err := p.CustomerStatus(ctx, created.ID); err != nil || st.HasPaymentMethod {
			t.Errorf("status = %+v, %v", st, err)
		}
	})
	if _, err := emu.AttachPaymentMethod(created.ID); err != nil {
		t.Fatal(err)
	}
	calls("link with a default payment method", 1, func() {
		if st, err := p.CustomerStatus(ctx, created.ID); err != nil || !st.HasPaymentMethod {
			t.Errorf("status = %+v, %v", st, err)
		}
	})
}
