package stripeemu_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/paysync/paysync/sandbox/state/statetest"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// An emulator built on the state another one wrote answers as it did:
// customers in creation order, payment methods, sessions, idempotency keys.
func TestStateSurvivesARestart(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		boot := func() (*stripeemu.Emulator, *client) {
			emu, srv := statetest.Boot(t, db, "stripe", stripeemu.NewWithState)
			return emu, &client{t: t, base: srv.URL, key: "sk_test_unit"}
		}
		emu, c := boot()
		_, _, first := c.do(http.MethodPost, "/v1/customers", url.Values{"name": {"First"}}, "Idempotency-Key", "k1")
		_, _, second := c.do(http.MethodPost, "/v1/customers", url.Values{"name": {"Second"}, "metadata[a]": {"b"}})
		id, id2 := first["id"].(string), second["id"].(string)
		pm, err := emu.AttachPaymentMethod(id)
		if err != nil {
			t.Fatal(err)
		}
		_, _, sess := c.do(http.MethodPost, "/v1/checkout/sessions", url.Values{"mode": {"setup"}, "customer": {id2},
			"currency": {"eur"}, "success_url": {"https://example.test/done"}})

		emu, c = boot()
		if n := emu.CustomerCount(); n != 2 {
			t.Errorf("%d customers after the restart, want 2", n)
		}
		if status, h, again := c.do(http.MethodPost, "/v1/customers", url.Values{"name": {"First"}}, "Idempotency-Key", "k1"); status != http.StatusOK || again["id"] != id || h.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay after the restart: %d %v (replayed %q), want %s", status, again["id"], h.Get("Idempotent-Replayed"), id)
		}
		_, _, list := c.do(http.MethodGet, "/v1/customers", nil)
		data, _ := list["data"].([]any)
		if len(data) != 2 || data[0].(map[string]any)["id"] != id2 || data[1].(map[string]any)["id"] != id {
			t.Errorf("customers after the restart, newest first: %v", list)
		}
		if c2, _ := emu.Customer(id2); c2.Metadata["a"] != "b" {
			t.Errorf("metadata lost: %+v", c2)
		}
		_, _, pms := c.do(http.MethodGet, "/v1/customers/"+id+"/payment_methods", nil)
		if data, _ := pms["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != pm {
			t.Errorf("payment methods after the restart: %v", pms)
		}
		_, _, got := c.do(http.MethodGet, "/v1/checkout/sessions/"+sess["id"].(string), nil)
		if got["url"] != sess["url"] || got["status"] != "open" {
			t.Errorf("session after the restart: %v, want %v", got, sess)
		}
		// Completing the session after the restart attaches a card, which the next restart keeps.
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if res, err := noRedirect.Post(sess["url"].(string), "", nil); err != nil {
			t.Fatal(err)
		} else {
			res.Body.Close()
		}
		emu, c = boot()
		if c2, _ := emu.Customer(id2); c2.DefaultPaymentMethod == "" {
			t.Errorf("the session's card was lost: %+v", c2)
		}
		if _, _, got := c.do(http.MethodGet, "/v1/checkout/sessions/"+sess["id"].(string), nil); got["status"] != "complete" {
			t.Errorf("session after completion and a restart: %v", got)
		}
	})
}

// Without a state store the emulator keeps working in memory.
func TestNewWithoutState(t *testing.T) {
	emu, err := stripeemu.NewWithState(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	c := &client{t: t, base: srv.URL, key: "sk_test_unit"}
	if status, _, _ := c.do(http.MethodPost, "/v1/customers", url.Values{"name": {"Mem"}}); status != http.StatusOK || emu.CustomerCount() != 1 {
		t.Errorf("in-memory create: %d, %d customers", status, emu.CustomerCount())
	}
}
