package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// One customer, three views: the pair the Lago tests do not cover. A
// customer created through Lotus reads the same through Flexprice, and the
// reverse.
func TestLotusAndFlexpriceShareCustomers(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn)

		wantStatus(t, h.lotusPost(`{"customer_id":"lotus-1","email":"ops@initech.example","customer_name":"Initech",
			"billing_address":{"line1":"4120 Freidrich Ln","line2":"Suite 2","city":"Austin","state":"TX","postal_code":"78744","country":"US"}}`), http.StatusCreated)
		flex := h.flexpriceGet("/v1/customers/external/lotus-1")
		wantStatus(t, flex, http.StatusOK)
		f := flex.json(t)
		for k, want := range map[string]string{
			"external_id": "lotus-1", "name": "Initech", "email": "ops@initech.example", "address_line1": "4120 Freidrich Ln",
			"address_line2": "Suite 2", "address_city": "Austin", "address_state": "TX", "address_postal_code": "78744", "address_country": "US",
		} {
			if f[k] != want {
				t.Errorf("flexprice %s = %#v, want %q", k, f[k], want)
			}
		}

		wantStatus(t, h.flexpriceCreate(`{"external_id":"flex-1","name":"Globex","email":"hank@globex.example",
			"address_line1":"1 Cypress Creek Rd","address_city":"Cypress Creek","address_state":"OR","address_postal_code":"97001",
			"address_country":"US","metadata":{"plan":"enterprise"}}`), http.StatusCreated)
		lotus := h.lotusGet("/api/customers/flex-1/")
		wantStatus(t, lotus, http.StatusOK)
		var l map[string]any
		if err := json.Unmarshal(lotus.body, &l); err != nil {
			t.Fatal(err)
		}
		if l["customer_id"] != "flex-1" || l["customer_name"] != "Globex" || l["email"] != "hank@globex.example" {
			t.Errorf("lotus view: %v", l)
		}
		addr, _ := json.Marshal(l["billing_address"])
		jsonEqual(t, addr, `{"city":"Cypress Creek","country":"US","line1":"1 Cypress Creek Rd","line2":null,"postal_code":"97001","state":"OR"}`)
	})
}
