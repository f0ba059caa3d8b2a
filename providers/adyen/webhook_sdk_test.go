package adyen_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/providers/adyen"
)

// TestWebhookSignaturesWithAdyenNodeLibrary proves both directions with
// Adyen's official Node library: its HmacValidator accepts every webhook
// the emulator signs (and rejects them under another key or once edited),
// and VerifyWebhook accepts webhooks the library itself signed.
func TestWebhookSignaturesWithAdyenNodeLibrary(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := webhookProvider(t, srv.URL+"/v71", testHMACKey)
	rec, hookURL := receive(t, p)
	emu.SendWebhooks(hookURL, nil, testHMACKey)

	// One card stored through the sandbox route, one through the helper,
	// then both removed: two standard and four tokenization webhooks.
	res, err := http.Post(srv.URL+"/_sandbox/shoppers/shopper_node/payment_methods", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := emu.AttachPaymentMethod("shopper_node"); err != nil {
		t.Fatal(err)
	}
	if err := emu.DetachPaymentMethods("shopper_node"); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, emu)
	rec.take(t)

	type delivery struct {
		Body          string `json:"body"`
		HMACSignature string `json:"hmacSignature"`
	}
	var sent []delivery
	for _, d := range emu.Webhooks() {
		sent = append(sent, delivery{Body: string(d.Body), HMACSignature: d.Header.Get(adyen.HMACSignatureHeader)})
	}
	if len(sent) != 6 {
		t.Fatalf("the emulator sent %d webhooks, want 6", len(sent))
	}
	file := filepath.Join(t.TempDir(), "webhooks.json")
	raw, _ := json.Marshal(sent)
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	out := testenv.Node(t, "adyen-webhook.js",
		"ADYEN_HMAC_KEY="+testHMACKey,
		"ADYEN_OTHER_HMAC_KEY="+otherHMACKey,
		"ADYEN_WEBHOOKS_FILE="+file,
		"ADYEN_SHOPPER_REFERENCE=shopper_node_signed",
		"ADYEN_MERCHANT_ACCOUNT="+testMerchant,
	)
	var got struct {
		Checked []struct {
			Kind, Event, PSPReference, ShopperReference string
			StoredPaymentMethodID                       string
			AmountValue                                 *float64
			Valid, ModelValid, OtherKeyValid            any
			TamperedValid                               any
		} `json:"checked"`
		Signed struct {
			Standard     string `json:"standard"`
			Tokenization struct {
				Body          string `json:"body"`
				HMACSignature string `json:"hmacSignature"`
			} `json:"tokenization"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("adyen-webhook.js output %q: %v", out, err)
	}

	// (a) The library verifies what the emulator signed.
	counts := map[string]int{}
	for _, c := range got.Checked {
		counts[c.Event]++
		if c.Valid != true || c.OtherKeyValid != false || c.TamperedValid != false {
			t.Errorf("%s %s: library says valid=%v, with another key %v, tampered %v; want true, false, false",
				c.Kind, c.Event, c.Valid, c.OtherKeyValid, c.TamperedValid)
		}
		if c.Kind == "standard" && c.ModelValid != true {
			t.Errorf("%s: the library's NotificationRequest model of the item does not verify: %v", c.Event, c.ModelValid)
		}
		if c.ShopperReference != "shopper_node" || c.PSPReference == "" {
			t.Errorf("%s: the library read shopper %q, psp %q", c.Event, c.ShopperReference, c.PSPReference)
		}
		if c.Kind == "standard" && (c.AmountValue == nil || *c.AmountValue != 0) {
			t.Errorf("%s: amount.value %v, want 0", c.Event, c.AmountValue)
		}
	}
	if counts["AUTHORISATION"] != 2 || counts["recurring.token.created"] != 2 || counts["recurring.token.disabled"] != 2 {
		t.Errorf("the library checked %v", counts)
	}

	// (b) VerifyWebhook accepts what the library signed.
	now := time.Now()
	evs, err := p.VerifyWebhook(http.Header{}, []byte(got.Signed.Standard), now)
	if err != nil {
		t.Fatalf("the library's standard webhook: %v", err)
	}
	if len(evs) != 2 || evs[0].ID != "AUTHORISATION:NODEAUTH00000001:true" || evs[0].ProviderCustomerID != "shopper_node_signed" ||
		evs[1].ID != "CAPTURE:NODECAPT00000002:true" || evs[1].ProviderCustomerID != "" || evs[1].ResourceID != "NODECAPT00000002" {
		t.Errorf("events of the library's standard webhook: %+v", evs)
	}
	wantAt := time.Date(2025, 6, 30, 14, 40, 23, 0, time.UTC)
	if len(evs) > 0 && !evs[0].OccurredAt.Equal(wantAt) {
		t.Errorf("OccurredAt = %s, want %s", evs[0].OccurredAt, wantAt)
	}
	header := http.Header{}
	header.Set("hmacsignature", got.Signed.Tokenization.HMACSignature)
	evs, err = p.VerifyWebhook(header, []byte(got.Signed.Tokenization.Body), now)
	if err != nil {
		t.Fatalf("the library's tokenization webhook: %v", err)
	}
	if len(evs) != 1 || evs[0].ID != "recurring.token.disabled:NODEDISA00000003" || evs[0].ProviderCustomerID != "shopper_node_signed" ||
		evs[0].ResourceID != "8416000000000001" {
		t.Errorf("events of the library's tokenization webhook: %+v", evs)
	}
	// And rejects them under another key.
	other := webhookProvider(t, srv.URL+"/v71", otherHMACKey)
	if _, err := other.VerifyWebhook(http.Header{}, []byte(got.Signed.Standard), now); err == nil {
		t.Error("the library's webhook verified under another key")
	}
}
