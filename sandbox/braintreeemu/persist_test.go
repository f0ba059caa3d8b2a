package braintreeemu_test

import (
	"context"
	"database/sql"
	"testing"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync/sandbox/braintreeemu"
	"github.com/paysync/paysync/sandbox/state/statetest"
)

// An emulator built on the state another one wrote answers as it did:
// customers, their vaulted payment methods and which one is the default.
func TestStateSurvivesARestart(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		boot := func() (*braintreeemu.Emulator, *bt.Braintree) {
			emu, srv := statetest.Boot(t, db, "braintree", braintreeemu.NewWithState)
			return emu, bt.NewWithHttpClient(bt.NewEnvironment(srv.URL), braintreeemu.MerchantID, braintreeemu.PublicKey, braintreeemu.PrivateKey, srv.Client())
		}
		emu, gw := boot()
		c, err := gw.Customer().Create(ctx, &bt.CustomerRequest{FirstName: "Ada", Email: "ada@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		gone, err := gw.Customer().Create(ctx, &bt.CustomerRequest{ID: "gone_1"})
		if err != nil {
			t.Fatal(err)
		}
		card, err := emu.AttachPaymentMethod(c.Id)
		if err != nil {
			t.Fatal(err)
		}
		paypal, err := gw.PaymentMethod().Create(ctx, &bt.PaymentMethodRequest{CustomerId: c.Id, PaymentMethodNonce: bt.FakeNoncePayPalFuturePayment,
			Options: &bt.PaymentMethodRequestOptions{MakeDefault: true}})
		if err != nil {
			t.Fatal(err)
		}
		if err := gw.Customer().Delete(ctx, gone.Id); err != nil {
			t.Fatal(err)
		}

		emu, gw = boot()
		if n := emu.CustomerCount(); n != 1 {
			t.Errorf("%d customers after the restart, want 1 (one was deleted)", n)
		}
		got, err := gw.Customer().Find(ctx, c.Id)
		if err != nil {
			t.Fatal(err)
		}
		if got.FirstName != "Ada" || got.Email != "ada@example.com" || len(got.PaymentMethods()) != 2 {
			t.Errorf("customer after the restart: %+v with %d payment methods", got, len(got.PaymentMethods()))
		}
		pm, err := gw.PaymentMethod().Find(ctx, paypal.GetToken())
		if err != nil || !pm.IsDefault() {
			t.Errorf("the default PayPal account after the restart: %+v, %v", pm, err)
		}
		// Deleting the default after the restart promotes the card, which the next restart keeps.
		if err := gw.PaymentMethod().Delete(ctx, paypal.GetToken()); err != nil {
			t.Fatal(err)
		}
		_, gw = boot()
		if pm, err := gw.PaymentMethod().Find(ctx, card); err != nil || !pm.IsDefault() {
			t.Errorf("the promoted card after a restart: %+v, %v", pm, err)
		}
		if _, err := gw.PaymentMethod().Find(ctx, paypal.GetToken()); err == nil {
			t.Error("a deleted payment method came back after a restart")
		}
	})
}
