package adyenemu_test

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"

	"github.com/paysync/paysync/sandbox/adyenemu"
	"github.com/paysync/paysync/sandbox/state/statetest"
)

// An emulator built on the state another one wrote answers as it did:
// stored payment methods, payment links and their pages, idempotency keys.
func TestStateSurvivesARestart(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		boot := func() (*adyenemu.Emulator, *client) {
			emu, srv := statetest.Boot(t, db, "adyen", adyenemu.NewWithState)
			return emu, &client{t: t, url: srv.URL, key: adyenemu.SandboxAPIKey}
		}
		emu, c := boot()
		token, err := emu.AttachPaymentMethod("shopper_stored")
		if err != nil {
			t.Fatal(err)
		}
		first := c.do(http.MethodPost, "/v71/paymentLinks", linkBody, "Idempotency-Key", "key-1")
		id, _ := first.body["id"].(string)

		emu, c = boot()
		const list = "/v71/storedPaymentMethods?merchantAccount=M_ECOM&shopperReference=shopper_stored"
		if r := c.do(http.MethodGet, list, ""); !strings.Contains(string(r.raw), token) {
			t.Errorf("stored methods after the restart: %d %s, want %s", r.status, r.raw, token)
		}
		again := c.do(http.MethodPost, "/v71/paymentLinks", linkBody, "Idempotency-Key", "key-1")
		if again.status != first.status || string(again.raw) != string(first.raw) {
			t.Errorf("replay after the restart answered %d %s, want %s", again.status, again.raw, first.raw)
		}
		if got := c.do(http.MethodGet, "/v71/paymentLinks/"+id, ""); got.body["status"] != "active" || got.body["url"] != first.body["url"] {
			t.Errorf("link after the restart: %s", got.raw)
		}
		page, err := http.Get(c.url + "/_sandbox/links/" + id)
		if err != nil {
			t.Fatal(err)
		}
		page.Body.Close()
		if page.StatusCode != http.StatusOK {
			t.Errorf("link page after the restart: %d", page.StatusCode)
		}
		if _, err := emu.CompletePaymentLink(id); err != nil {
			t.Fatal(err)
		}
		emu, _ = boot()
		if n := emu.PaymentMethods("shopper_1"); n != 1 {
			t.Errorf("the link's stored method after completion and a restart: %d methods", n)
		}
		if n := emu.PaymentLinks(); n != 1 {
			t.Errorf("%d links after a restart, want 1", n)
		}
	})
}
