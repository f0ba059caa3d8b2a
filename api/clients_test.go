package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/paysync/paysync"
)

// lotus-python (lotus/client.py, lotus/request.py) adds $type, library,
// library_version and sentAt to every body it sends, and authenticates with
// X-API-KEY: paysync accepts the keys and ignores them.
func TestLotusPythonClientBody(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.request("POST", "/api/customers/", withAPIKey(h.key), strings.NewReader(`{
		"$type": "create_customer", "customer_id": "py-1", "email": "py@example.com",
		"customer_name": "Py Co", "properties": {},
		"library": "lotus-python", "library_version": "0.0.38", "sentAt": "2026-12-05T08:00:00.000000+00:00"}`))
	wantStatus(t, r, http.StatusCreated)
	c := h.customer("py-1")
	if c.Email != "py@example.com" || c.Name != "Py Co" {
		t.Fatalf("stored %+v", c)
	}
	if len(c.Properties) > 0 && string(c.Properties) != "{}" {
		t.Fatalf("the client's keys leaked into properties: %s", c.Properties)
	}
	// list_customers sends the same keys in a GET's body.
	r = h.request("GET", "/api/customers/", withAPIKey(h.key), strings.NewReader(`{"$type": "list_customers", "library": "lotus-python"}`))
	wantStatus(t, r, http.StatusOK)
}

// lotusCustomerRequired are the keys lotus-python's strict Customer model
// (lotus/models.py) requires, with the JSON type each must have; the keys
// typed Optional[...] = Field(...) are required but may be null.
var lotusCustomerRequired = map[string]string{
	"customer_id": "string", "email": "string", "customer_name": "string|null",
	"invoices": "array", "total_amount_due": "number", "subscriptions": "array",
	"integrations": "object", "default_currency": "object", "payment_provider": "string|null",
	"payment_provider_id": "string|null", "has_payment_method": "bool",
	"billing_address": "object|null", "shipping_address": "object|null", "tax_rate": "number|null",
	"timezone": "string", "tax_providers": "array",
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

// A list parses with lotus-python's strict models (parse_obj_as(list[Customer])):
// every item, whichever dialect wrote it, carries every required key.
func TestLotusListParsesWithStrictModels(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	h.conns.add(h.org.ID, paysync.Stripe, "stripe")
	wantStatus(t, h.lotusPost(lotusSeedBody), http.StatusCreated)
	wantStatus(t, h.post(`{"customer":{"external_id":"lago-1","email":"lago@example.com","billing_configuration":{"payment_provider":"stripe","sync_with_provider":true}}}`), http.StatusOK)
	r := h.request("POST", "/v1/customers", withHeader("x-api-key", h.key), strings.NewReader(`{"external_id":"flex-1","email":"flex@example.com"}`))
	wantStatus(t, r, http.StatusCreated)

	r = h.lotusGet("/api/customers/")
	wantStatus(t, r, http.StatusOK)
	var items []map[string]any
	if err := json.Unmarshal(r.body, &items); err != nil {
		t.Fatalf("list is not an array: %v: %s", err, r.body)
	}
	if len(items) != 3 {
		t.Fatalf("%d items: %s", len(items), r.body)
	}
	for _, it := range items {
		for key, kinds := range lotusCustomerRequired {
			v, ok := it[key]
			if !ok {
				t.Errorf("%v: no %s", it["customer_id"], key)
				continue
			}
			if !strings.Contains("|"+kinds+"|", "|"+jsonKind(v)+"|") {
				t.Errorf("%v: %s is %s, the model wants %s", it["customer_id"], key, jsonKind(v), kinds)
			}
		}
		cur, _ := it["default_currency"].(map[string]any)
		for _, k := range []string{"code", "name", "symbol"} {
			if s, _ := cur[k].(string); s == "" {
				t.Errorf("%v: default_currency.%s %v", it["customer_id"], k, cur[k])
			}
		}
	}
}

// Lago's optional customer settings are validated as Lago does, stored and
// returned in its serializer's shape; absent keys keep the stored value.
func TestLagoOptionalCustomerSettings(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	r := h.post(`{"customer":{"external_id":"opt-1","billing_entity_code":"acme_eu","external_salesforce_id":"sf-9",
		"skip_invoice_custom_sections":true,"billing_configuration":{"sync":false,
		"subscription_invoice_issuing_date_anchor":"current_period_end",
		"subscription_invoice_issuing_date_adjustment":"keep_anchor"}}}`)
	wantStatus(t, r, http.StatusOK)
	got := r.json(t)["customer"].(map[string]any)
	bc := got["billing_configuration"].(map[string]any)
	if got["billing_entity_code"] != "acme_eu" || got["external_salesforce_id"] != "sf-9" || got["skip_invoice_custom_sections"] != true ||
		bc["subscription_invoice_issuing_date_anchor"] != "current_period_end" || bc["subscription_invoice_issuing_date_adjustment"] != "keep_anchor" {
		t.Fatalf("customer %s", r.body)
	}
	c := h.customer("opt-1")
	if c.BillingEntityCode != "acme_eu" || c.ExternalSalesforceID != "sf-9" || !c.SkipInvoiceCustomSections ||
		c.InvoiceIssuingDateAnchor != "current_period_end" || c.InvoiceIssuingDateAdjustment != "keep_anchor" {
		t.Fatalf("stored %+v", c)
	}

	// An update without the keys keeps them; null clears.
	r = h.post(`{"customer":{"external_id":"opt-1","name":"Renamed","external_salesforce_id":null,
		"billing_configuration":{"subscription_invoice_issuing_date_anchor":null}}}`)
	wantStatus(t, r, http.StatusOK)
	got = r.json(t)["customer"].(map[string]any)
	bc = got["billing_configuration"].(map[string]any)
	if got["billing_entity_code"] != "acme_eu" || got["external_salesforce_id"] != nil || got["skip_invoice_custom_sections"] != true ||
		bc["subscription_invoice_issuing_date_anchor"] != nil || bc["subscription_invoice_issuing_date_adjustment"] != "keep_anchor" {
		t.Fatalf("after the update %s", r.body)
	}

	// Unset: billing_entity_code is left out, the others are null or false.
	r = h.post(`{"customer":{"external_id":"opt-2"}}`)
	wantStatus(t, r, http.StatusOK)
	got = r.json(t)["customer"].(map[string]any)
	bc = got["billing_configuration"].(map[string]any)
	if _, ok := got["billing_entity_code"]; ok || got["external_salesforce_id"] != nil || got["skip_invoice_custom_sections"] != false ||
		bc["subscription_invoice_issuing_date_anchor"] != nil || bc["subscription_invoice_issuing_date_adjustment"] != nil {
		t.Fatalf("unset %s", r.body)
	}

	// Lago's enums, its type checks.
	r = h.post(`{"customer":{"external_id":"opt-3","skip_invoice_custom_sections":"yes","billing_configuration":{
		"subscription_invoice_issuing_date_anchor":"someday","subscription_invoice_issuing_date_adjustment":"later"}}}`)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	details, _ := r.json(t)["error_details"].(map[string]any)
	for _, f := range []string{"subscription_invoice_issuing_date_anchor", "subscription_invoice_issuing_date_adjustment", "skip_invoice_custom_sections"} {
		if details[f] == nil {
			t.Errorf("no error for %s: %s", f, r.body)
		}
	}
}
