package gocardlessemu_test

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"

	"github.com/paysync/paysync/sandbox/gocardlessemu"
	"github.com/paysync/paysync/sandbox/state/statetest"
)

// An emulator built on the state another one wrote answers as it did:
// customers, mandates, billing requests and their flows, idempotency keys.
func TestStateSurvivesARestart(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		boot := func() *api {
			emu, srv := statetest.Boot(t, db, "gocardless", gocardlessemu.NewWithState)
			return &api{t: t, url: srv.URL, emu: emu}
		}
		a := boot()
		key := map[string]string{"Idempotency-Key": "k-1"}
		body := `{"customers":{"email":"p@example.com","given_name":"Pat","family_name":"Doe","country_code":"GB"}}`
		cu := object(t, a.call("POST", "/customers", body, key).body, "customers", "id").(string)
		other := object(t, a.call("POST", "/customers", `{"customers":{"email":"q@example.com","given_name":"Quinn","family_name":"Roe","country_code":"DE"}}`, nil).body, "customers", "id").(string)
		md := object(t, a.call("POST", "/_sandbox/customers/"+cu+"/mandates", "", nil).body, "mandates", "id").(string)
		r := a.call("POST", "/billing_requests", `{"billing_requests":{"mandate_request":{"scheme":"sepa_core","currency":"EUR"},"links":{"customer":"`+other+`"}}}`, nil)
		brq := object(t, r.body, "billing_requests", "id").(string)
		r = a.call("POST", "/billing_request_flows", `{"billing_request_flows":{"links":{"billing_request":"`+brq+`"}}}`, nil)
		authURL := object(t, r.body, "billing_request_flows", "authorisation_url").(string)
		creditor := object(t, a.call("GET", "/mandates/"+md, "", nil).body, "mandates", "links", "creditor")

		a = boot()
		if n := a.emu.CustomerCount(); n != 2 {
			t.Errorf("%d customers after the restart, want 2", n)
		}
		again := a.call("POST", "/customers", body, key)
		if reason := apiError(t, again, 409, "invalid_state"); reason != "idempotent_creation_conflict" ||
			object(t, object(t, again.body, "error", "errors").([]any)[0], "links", "conflicting_resource_id") != cu {
			t.Errorf("idempotent replay after the restart: %v", again.body)
		}
		m := a.call("GET", "/mandates/"+md, "", nil)
		if object(t, m.body, "mandates", "status") != "active" || object(t, m.body, "mandates", "links", "customer") != cu ||
			object(t, m.body, "mandates", "links", "creditor") != creditor {
			t.Errorf("mandate after the restart: %v (creditor was %v)", m.body, creditor)
		}
		// The flow made before the restart completes after it, on the new emulator.
		authURL = a.url + authURL[strings.Index(authURL, "/_sandbox/"):]
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Post(authURL, "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("completing the flow after the restart: %d (%s)", resp.StatusCode, authURL)
		}
		a = boot()
		if got := a.call("GET", "/billing_requests/"+brq, "", nil); object(t, got.body, "billing_requests", "status") != "fulfilled" {
			t.Errorf("billing request after completion and a restart: %v", got.body)
		}
		if ms := object(t, a.call("GET", "/mandates?customer="+other, "", nil).body, "mandates").([]any); len(ms) != 1 {
			t.Errorf("mandates of the flow's customer after a restart: %v", ms)
		}
	})
}
