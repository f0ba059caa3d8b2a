package stripeemu_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// TestNodeSDK drives the emulator with Stripe's official Node SDK: if the
// emulator's wire format drifted from Stripe's, the SDK would fail to
// encode, decode or route these calls.
func TestNodeSDK(t *testing.T) {
	t.Parallel()
	emu := stripeemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)

	out := testenv.Node(t, "stripe.js", "STRIPE_URL="+srv.URL, "STRIPE_KEY=sk_test_sdk")
	var got struct {
		ID                   string            `json:"id"`
		Object               string            `json:"object"`
		Livemode             bool              `json:"livemode"`
		ReplayedID           string            `json:"replayed_id"`
		ReplayedHeader       string            `json:"replayed_header"`
		Email                string            `json:"email"`
		Name                 string            `json:"name"`
		Address              map[string]any    `json:"address"`
		PreferredLocales     []string          `json:"preferred_locales"`
		Metadata             map[string]string `json:"metadata"`
		DefaultPaymentMethod string            `json:"default_payment_method"`
		PaymentMethods       []struct {
			ID, Type, Customer, Last4 string
		} `json:"payment_methods"`
		PaymentMethodsObject string   `json:"payment_methods_object"`
		SearchIDs            []string `json:"search_ids"`
		SearchObject         string   `json:"search_object"`
		Missing              struct {
			Type, Code, Param string
			Status            int
		} `json:"missing"`
		Deleted struct {
			ID      string
			Deleted bool
		} `json:"deleted"`
		AfterDelete struct {
			ID      string
			Deleted bool
		} `json:"after_delete"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("parse SDK output %q: %v", out, err)
	}

	if !strings.HasPrefix(got.ID, "cus_") || got.Object != "customer" || got.Livemode {
		t.Errorf("created customer: id %q object %q livemode %v", got.ID, got.Object, got.Livemode)
	}
	if got.ReplayedID != got.ID || got.ReplayedHeader != "true" {
		t.Errorf("idempotent replay: id %q (want %q), Idempotent-Replayed %q", got.ReplayedID, got.ID, got.ReplayedHeader)
	}
	if got.Email != "sdk@example.com" || got.Name != "SDK Customer" {
		t.Errorf("retrieved email %q name %q", got.Email, got.Name)
	}
	wantAddr := map[string]any{"line1": "1 Rue de la Paix", "line2": "Bat. B", "city": "Paris", "postal_code": "75002", "country": "FR", "state": nil}
	for k, v := range wantAddr {
		if got.Address[k] != v {
			t.Errorf("address[%s] = %v, want %v", k, got.Address[k], v)
		}
	}
	if strings.Join(got.PreferredLocales, ",") != "fr,en" {
		t.Errorf("preferred_locales = %v, want [fr en] in order", got.PreferredLocales)
	}
	if got.Metadata["paysync_external_id"] != "ext-sdk-1" || got.Metadata["plan"] != "gold" || len(got.Metadata) != 2 {
		t.Errorf("metadata = %v", got.Metadata)
	}
	// The customer was retrieved before the card was attached.
	if got.DefaultPaymentMethod != "" {
		t.Errorf("default_payment_method before attach = %q", got.DefaultPaymentMethod)
	}
	if got.PaymentMethodsObject != "list" || len(got.PaymentMethods) != 1 {
		t.Fatalf("payment methods: object %q, %d entries, want a list of 1", got.PaymentMethodsObject, len(got.PaymentMethods))
	}
	pm := got.PaymentMethods[0]
	if !strings.HasPrefix(pm.ID, "pm_") || pm.Type != "card" || pm.Customer != got.ID || pm.Last4 != "4242" {
		t.Errorf("payment method = %+v", pm)
	}
	if got.SearchObject != "search_result" || len(got.SearchIDs) != 1 || got.SearchIDs[0] != got.ID {
		t.Errorf("search: object %q ids %v, want [%s]", got.SearchObject, got.SearchIDs, got.ID)
	}
	if got.Missing.Status != 404 || got.Missing.Type != "StripeInvalidRequestError" || got.Missing.Code != "resource_missing" || got.Missing.Param != "id" {
		t.Errorf("unknown customer error as the SDK parsed it = %+v", got.Missing)
	}
	if got.Deleted.ID != got.ID || !got.Deleted.Deleted || got.AfterDelete.ID != got.ID || !got.AfterDelete.Deleted {
		t.Errorf("delete = %+v, retrieve after delete = %+v", got.Deleted, got.AfterDelete)
	}

	// The SDK's view matches the emulator's state.
	if n := emu.CustomerCount(); n != 1 {
		t.Errorf("CustomerCount = %d, want 1 (the replay must not create a second)", n)
	}
	if c, ok := emu.Customer(got.ID); !ok || !c.Deleted || c.Address == nil || c.Address.City != "Paris" {
		t.Errorf("emulator record = %+v, %v", c, ok)
	}
}
