package adyen_test

import (
	"context"
	"testing"
)

// Provider calls as the emulator counts them: "creating" is the one
// storedPaymentMethods read, which also tells a shopper's existing token.
func TestCallsCountedAtTheEmulator(t *testing.T) {
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL, nil)
	ctx := context.Background()
	calls := func(what string, want int, do func()) {
		t.Helper()
		before := emu.Faults.Requests()
		do()
		if got := emu.Faults.Requests() - before; got != want {
			t.Errorf("%s: %d calls at the emulator, want %d", what, got, want)
		}
	}
	c := customer("cust_calls")
	calls("create", 1, func() {
		if got, err := p.CreateCustomer(ctx, createReq(c)); err != nil || got.ID != "cust_calls" || got.HasPaymentMethod {
			t.Errorf("create = %+v, %v", got, err)
		}
	})
	if _, err := emu.AttachPaymentMethod("cust_calls"); err != nil {
		t.Fatal(err)
	}
	calls("create again", 1, func() {
		if got, err := p.CreateCustomer(ctx, createReq(c)); err != nil || !got.HasPaymentMethod {
			t.Errorf("create again = %+v, %v; want the stored token seen", got, err)
		}
	})
	calls("link", 1, func() {
		if st, err := p.CustomerStatus(ctx, "cust_calls"); err != nil || !st.HasPaymentMethod {
			t.Errorf("status = %+v, %v", st, err)
		}
	})
}
