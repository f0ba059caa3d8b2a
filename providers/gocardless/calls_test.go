package gocardless_test

import (
	"context"
	"testing"

	"github.com/paysync/paysync"
)

// Provider calls as the emulator counts them: creating is one call;
// adopting what the key created two (the 409 and the mandates); linking
// two (the customer and its mandates).
func TestCallsCountedAtTheEmulator(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	calls := func(what string, want int, do func()) {
		t.Helper()
		before := e.emu.Faults.Requests()
		do()
		if got := e.emu.Faults.Requests() - before; got != want {
			t.Errorf("%s: %d calls at the emulator, want %d", what, got, want)
		}
	}
	req := paysync.CreateCustomerRequest{Customer: customer(), IdempotencyKey: "paysync-calls-1"}
	var first paysync.ProviderCustomer
	calls("create", 1, func() {
		var err error
		if first, err = e.p.CreateCustomer(ctx, req); err != nil || first.ID == "" || first.HasPaymentMethod {
			t.Fatalf("create = %+v, %v", first, err)
		}
	})
	// The first answer was lost; a mandate was set up before the retry.
	if _, err := e.emu.AttachPaymentMethod(first.ID); err != nil {
		t.Fatal(err)
	}
	calls("adopt", 2, func() {
		got, err := e.p.CreateCustomer(ctx, req)
		if err != nil || got.ID != first.ID || !got.HasPaymentMethod {
			t.Errorf("adopt = %+v, %v; want %s with a payment method", got, err, first.ID)
		}
	})
	calls("link", 2, func() {
		if st, err := e.p.CustomerStatus(ctx, first.ID); err != nil || !st.HasPaymentMethod {
			t.Errorf("status = %+v, %v", st, err)
		}
	})
}
