package braintree_test

import (
	"context"
	"testing"

	"github.com/paysync/paysync"
)

// Provider calls as the emulator counts them: creating is one call;
// adopting an earlier attempt's customer two (the refused create and the
// find, which tells the payment methods); linking one.
func TestCallsCountedAtTheEmulator(t *testing.T) {
	p, emu, _ := start(t)
	ctx := context.Background()
	calls := func(what string, want int, do func()) {
		t.Helper()
		before := emu.Faults.Requests()
		do()
		if got := emu.Faults.Requests() - before; got != want {
			t.Errorf("%s: %d calls at the emulator, want %d", what, got, want)
		}
	}
	link := newLink(1)
	cust := &paysync.Customer{Name: "Count Calls", Email: "calls@example.com"}
	var first paysync.ProviderCustomer
	calls("create", 1, func() {
		var err error
		if first, err = p.CreateCustomer(ctx, request(cust, link)); err != nil || first.HasPaymentMethod {
			t.Fatalf("create = %+v, %v", first, err)
		}
	})
	// The first answer was lost; a card was vaulted before the retry.
	if _, err := emu.AttachPaymentMethod(first.ID); err != nil {
		t.Fatal(err)
	}
	calls("adopt", 2, func() {
		got, err := p.CreateCustomer(ctx, request(cust, link))
		if err != nil || got.ID != first.ID || !got.HasPaymentMethod {
			t.Errorf("adopt = %+v, %v; want %s with a payment method", got, err, first.ID)
		}
	})
	calls("link", 1, func() {
		if st, err := p.CustomerStatus(ctx, first.ID); err != nil || !st.HasPaymentMethod {
			t.Errorf("status = %+v, %v", st, err)
		}
	})
}
