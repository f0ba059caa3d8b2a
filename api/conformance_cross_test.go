package api_test

// Cross-dialect conformance: paysync keeps one customer, which all three
// dialects show. A customer written through one dialect must read back
// through the others in a shape their specs allow.

import (
	"net/http"
	"testing"

	"github.com/paysync/paysync"
)

// TestConformanceCrossDialect reads customers written through each
// dialect through every dialect's retrieve and list operations.
func TestConformanceCrossDialect(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe")
	lago, lotus, flex := oasLagoClient(h), oasLotusClient(h), oasFlexpriceClient(h)
	lago.check(t, "POST", "/api/v1/customers", seedBody, http.StatusOK)
	lotus.check(t, "POST", "/api/customers/", confLotusSeed, http.StatusCreated)
	flex.check(t, "POST", "/v1/customers", confFlexpriceSeed, http.StatusCreated)
	for _, id := range []string{"5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba", "lotus-seed-1", "flex-seed-1"} {
		t.Run(id, func(t *testing.T) {
			lago.check(t, "GET", "/api/v1/customers/"+id, "", http.StatusOK)
			lotus.check(t, "GET", "/api/customers/"+id+"/", "", http.StatusOK)
			flex.check(t, "GET", "/v1/customers/external/"+id, "", http.StatusOK)
		})
	}
	t.Run("lists", func(t *testing.T) {
		lago.check(t, "GET", "/api/v1/customers", "", http.StatusOK)
		lotus.check(t, "GET", "/api/customers/", "", http.StatusOK)
		flex.check(t, "GET", "/v1/customers", "", http.StatusOK)
		flex.check(t, "POST", "/v1/customers/search", `{}`, http.StatusOK)
	})
}

// TestConformanceCrossDialectEdges writes values one dialect accepts and
// reads them through a dialect whose spec is narrower.
func TestConformanceCrossDialectEdges(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Adyen, "adyen")
	h.conns.add(h.org.ID, paysync.GoCardless, "gocardless")
	lago, lotus, flex := oasLagoClient(h), oasLotusClient(h), oasFlexpriceClient(h)

	t.Run("email list", func(t *testing.T) {
		// Lago takes a comma-separated list of addresses (it sends invoices
		// to each); its spec types email as one address (format: email).
		list := oasTolerance{field: "$.customer.email", keyword: "format", why: "Lago accepts a comma-separated list of emails"}
		lago.check(t, "POST", "/api/v1/customers", `{"customer":{"external_id":"emails","email":"a@example.com,b@example.com"}}`, http.StatusOK, list)
		lago.check(t, "GET", "/api/v1/customers/emails", "", http.StatusOK, list)
		flex.check(t, "GET", "/v1/customers/external/emails", "", http.StatusOK)
		t.Run("lotus view", func(t *testing.T) {
			// Lotus's email is one address (format: email, EmailField).
			lotus.check(t, "GET", "/api/customers/emails/", "", http.StatusOK)
		})
	})
	t.Run("adyen and gocardless links", func(t *testing.T) {
		lago.check(t, "POST", "/api/v1/customers", `{"customer":{"external_id":"adyen","email":"adyen@example.com",
			"billing_configuration":{"payment_provider":"adyen","provider_customer_id":"shopper-1"}}}`, http.StatusOK)
		lago.check(t, "POST", "/api/v1/customers", `{"customer":{"external_id":"gc","email":"gc@example.com",
			"billing_configuration":{"payment_provider":"gocardless","sync_with_provider":true}}}`, http.StatusOK)
		// Lotus knows stripe and braintree only. paysync's Lotus view names
		// the Adyen or GoCardless link in payment_provider anyway (see
		// lotusCustomerView): that enum, on that field, is excused.
		other := oasTolerance{field: "$.payment_provider", keyword: "enum", why: "Lotus has no adyen or gocardless; paysync shows the link"}
		lotus.check(t, "GET", "/api/customers/adyen/", "", http.StatusOK, other)
		lotus.check(t, "GET", "/api/customers/gc/", "", http.StatusOK, other)
		flex.check(t, "GET", "/v1/customers/external/adyen", "", http.StatusOK)
	})
	t.Run("timezone outside Lago's list", func(t *testing.T) {
		// Lago's TimezoneValidator takes "UTC" or a value of
		// ActiveSupport::TimeZone::MAPPING, the spec's enum; Africa/Ceuta
		// is a valid IANA zone outside it.
		t.Run("written through lago", func(t *testing.T) {
			// Lago itself answers 422 invalid_timezone; whatever paysync
			// answers must conform (a 200 that shows the zone does not).
			ex := lago.send(t, "POST", "/api/v1/customers", h.key, `{"customer":{"external_id":"ceuta","timezone":"Africa/Ceuta"}}`)
			if ex.status != http.StatusUnprocessableEntity {
				t.Errorf("a zone outside Lago's list: status %d, want 422 invalid_timezone", ex.status)
			}
			oasLago.conforms(t, ex)
		})
		flex.check(t, "POST", "/v1/customers", `{"external_id":"flex-ceuta","name":"Ceuta","timezone":"Africa/Ceuta"}`, http.StatusCreated)
		t.Run("written through flexprice", func(t *testing.T) {
			// Flexprice takes any IANA zone; Lago's view shows the zone
			// as stored rather than invent another: those enums, on those
			// fields, are excused.
			why := "a zone written through Flexprice is shown as stored"
			lago.check(t, "GET", "/api/v1/customers/flex-ceuta", "", http.StatusOK,
				oasTolerance{field: "$.customer.timezone", keyword: "enum", why: why},
				oasTolerance{field: "$.customer.applicable_timezone", keyword: "enum", why: why})
		})
	})
	t.Run("timezone outside Lotus's list", func(t *testing.T) {
		// Lotus's timezone enum is pytz's common zones; Etc/GMT+5 is valid
		// IANA (Flexprice takes it) but not among them. paysync's Lotus
		// view shows the stored zone anyway, on purpose (lotusDefaultTimezone
		// in lotus_response.go: Lotus itself stores any pytz zone and shows
		// it): that enum, on that field, is excused.
		flex.check(t, "POST", "/v1/customers", `{"external_id":"gmt5","name":"GMT+5","timezone":"Etc/GMT+5"}`, http.StatusCreated)
		lotus.check(t, "GET", "/api/customers/gmt5/", "", http.StatusOK,
			oasTolerance{field: "$.timezone", keyword: "enum", why: "paysync's Lotus view shows any stored zone"})
	})
	t.Run("partial address in the Lotus view", func(t *testing.T) {
		// Lago takes an address of a city alone; Lotus's Address requires
		// city, country (an enum), line1 and postal_code.
		lago.check(t, "POST", "/api/v1/customers", `{"customer":{"external_id":"city-only","city":"Paris"}}`, http.StatusOK)
		lotus.check(t, "GET", "/api/customers/city-only/", "", http.StatusOK)
	})
	t.Run("long address in the Lotus view", func(t *testing.T) {
		// Flexprice takes a city of 100 characters and a state of 100;
		// Lotus's Address caps them at 50 and 30.
		flex.check(t, "POST", "/v1/customers", `{"external_id":"long","name":"Long","address_city":"Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch Village",
			"address_country":"GB","address_line1":"1 Road","address_postal_code":"LL61 5UJ","address_state":"Isle of Anglesey, Wales, United Kingdom"}`, http.StatusCreated)
		lotus.check(t, "GET", "/api/customers/long/", "", http.StatusOK)
	})
}
