package braintree_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/providers/braintree"
	"github.com/paysync/paysync/sandbox/braintreeemu"
)

type sdkNotification struct {
	Kind              string  `json:"kind"`
	Timestamp         string  `json:"timestamp"`
	CustomerID        *string `json:"customerId"`
	Token             *string `json:"token"`
	PaymentMethodType *string `json:"paymentMethodType"`
	SubscriptionID    *string `json:"subscriptionId"`
	Error             string  `json:"error"`
	Message           string  `json:"message"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestWebhooksAgainstNodeSDK proves the signature scheme is Braintree's
// own, with the official Node SDK (braintree 3.40.0), both ways:
//
//   - what the emulator POSTs passes gateway.webhookNotification.parse and
//     parses to the same kind, customer and token VerifyWebhook reads, and
//     fails parse for another key pair;
//   - what gateway.webhookTesting.sampleNotification produces passes
//     VerifyWebhook and parses to the kind and customer the SDK reads,
//     and a sample signed by another merchant is refused;
//   - WebhookChallenge answers what gateway.webhookNotification.verify does.
func TestWebhooksAgainstNodeSDK(t *testing.T) {
	t.Parallel()
	p, emu, srv := start(t)
	rc := &receiver{p: p}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	emu.SendWebhooks(hook.URL, nil, "")

	// Emulator deliveries: a card and a PayPal account vaulted, then both revoked.
	ctx := context.Background()
	id, err := idOf(p.CreateCustomer(ctx, request(&paysync.Customer{Name: "SDK Webhooks"}, newLink(1))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk(srv).PaymentMethod().Create(ctx, &bt.PaymentMethodRequest{CustomerId: id, PaymentMethodNonce: bt.FakeNoncePayPalFuturePayment}); err != nil {
		t.Fatal(err)
	}
	if err := emu.RevokePaymentMethods(id); err != nil {
		t.Fatal(err)
	}
	if err := emu.WaitWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	events, bodies, errs := rc.snapshot()
	if len(errs) != 0 || len(events) != 4 {
		t.Fatalf("receiver got %d events, errors %v; want 4 accepted", len(events), errs)
	}
	type delivery struct {
		Signature string `json:"bt_signature"`
		Payload   string `json:"bt_payload"`
	}
	var deliveries []delivery
	for _, b := range bodies {
		f, err := url.ParseQuery(string(b))
		if err != nil {
			t.Fatal(err)
		}
		deliveries = append(deliveries, delivery{f.Get("bt_signature"), f.Get("bt_payload")})
	}
	deliveriesJSON, _ := json.Marshal(deliveries)

	type kindID struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}
	sampleKinds := []kindID{
		{braintree.KindPaymentMethodRevokedByCustomer, "revoked_token"},
		{braintree.KindGrantedPaymentMethodRevoked, "granted_token"},
		{braintree.KindPaymentMethodCustomerDataUpdated, "venmo_token"},
		{"subscription_charged_successfully", "sub_1"},
		{"subscription_canceled", "sub_2"},
		{"transaction_settled", "tx_1"},
		{"check", "check_1"},
	}
	samplesJSON, _ := json.Marshal(sampleKinds)
	const challenge = "3a7f0c9e12b4d5f60718293a"

	out := testenv.Node(t, "braintree-webhook.js",
		"BRAINTREE_MERCHANT_ID="+braintreeemu.MerchantID,
		"BRAINTREE_PUBLIC_KEY="+braintreeemu.PublicKey,
		"BRAINTREE_PRIVATE_KEY="+braintreeemu.PrivateKey,
		"OTHER_PUBLIC_KEY=other_public_key",
		"OTHER_PRIVATE_KEY=other_private_key",
		"WEBHOOK_DELIVERIES="+string(deliveriesJSON),
		"SAMPLE_KINDS="+string(samplesJSON),
		"WEBHOOK_CHALLENGE="+challenge,
	)
	var got struct {
		Kinds    map[string]string `json:"kinds"`
		Parsed   []sdkNotification `json:"parsed"`
		Rejected []struct {
			OtherKey    string `json:"otherKey"`
			OtherSecret string `json:"otherSecret"`
		} `json:"rejected"`
		Samples []struct {
			Kind      string          `json:"kind"`
			ID        string          `json:"id"`
			Signature string          `json:"bt_signature"`
			Payload   string          `json:"bt_payload"`
			Parsed    sdkNotification `json:"parsed"`
		} `json:"samples"`
		OtherSample  delivery `json:"otherSample"`
		Challenge    string   `json:"challenge"`
		BadChallenge string   `json:"badChallenge"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode SDK output: %v\n%s", err, out)
	}

	// The kinds this package relies on exist in the SDK.
	for name, kind := range map[string]string{
		"PaymentMethodRevokedByCustomer":   braintree.KindPaymentMethodRevokedByCustomer,
		"GrantedPaymentMethodRevoked":      braintree.KindGrantedPaymentMethodRevoked,
		"PaymentMethodCustomerDataUpdated": braintree.KindPaymentMethodCustomerDataUpdated,
	} {
		if got.Kinds[name] != kind {
			t.Errorf("SDK WebhookNotification.Kind.%s = %q, want %q", name, got.Kinds[name], kind)
		}
	}

	// (a) The emulator's deliveries, as the SDK reads them.
	if len(got.Parsed) != len(events) {
		t.Fatalf("SDK parsed %d deliveries, want %d", len(got.Parsed), len(events))
	}
	wantTypes := []string{"CreditCard", "PayPalAccount", "CreditCard", "PayPalAccount"}
	for i, n := range got.Parsed {
		ev := events[i]
		if n.Error != "" {
			t.Errorf("delivery %d: SDK parse failed: %s %s", i, n.Error, n.Message)
			continue
		}
		if n.Kind != ev.Type || str(n.CustomerID) != id || ev.ProviderCustomerID != id || str(n.Token) != ev.ResourceID {
			t.Errorf("delivery %d: SDK read %+v, VerifyWebhook %+v", i, n, ev)
		}
		if str(n.PaymentMethodType) != wantTypes[i] {
			t.Errorf("delivery %d: SDK payment method %s, want %s", i, str(n.PaymentMethodType), wantTypes[i])
		}
		if ts, err := time.Parse(time.RFC3339, n.Timestamp); err != nil || !ts.Equal(ev.OccurredAt) {
			t.Errorf("delivery %d: SDK timestamp %q, VerifyWebhook %s", i, n.Timestamp, ev.OccurredAt)
		}
	}
	for i, want := range []string{braintree.KindPaymentMethodCustomerDataUpdated, braintree.KindPaymentMethodCustomerDataUpdated,
		braintree.KindPaymentMethodRevokedByCustomer, braintree.KindPaymentMethodRevokedByCustomer} {
		if events[i].Type != want {
			t.Errorf("event %d is %s, want %s", i, events[i].Type, want)
		}
	}
	for i, r := range got.Rejected {
		if r.OtherKey != "invalidSignatureError" || r.OtherSecret != "invalidSignatureError" {
			t.Errorf("delivery %d with other keys: SDK answered %+v, want invalidSignatureError twice", i, r)
		}
	}

	// (b) The SDK's samples, through VerifyWebhook.
	if len(got.Samples) != len(sampleKinds) {
		t.Fatalf("SDK made %d samples, want %d", len(got.Samples), len(sampleKinds))
	}
	wantCustomer := map[string]string{
		braintree.KindPaymentMethodRevokedByCustomer:   "a-customer-id",
		braintree.KindGrantedPaymentMethodRevoked:      "venmo_customer_id",
		braintree.KindPaymentMethodCustomerDataUpdated: "venmo_customer_id",
	}
	for _, s := range got.Samples {
		evs, err := p.VerifyWebhook(formHeader, form(s.Signature, s.Payload), time.Now())
		if err != nil || len(evs) != 1 {
			t.Errorf("sample %s: events %+v, error %v", s.Kind, evs, err)
			continue
		}
		ev := evs[0]
		if ev.Type != s.Kind || s.Parsed.Kind != s.Kind {
			t.Errorf("sample %s: VerifyWebhook type %q, SDK kind %q", s.Kind, ev.Type, s.Parsed.Kind)
		}
		if ev.ProviderCustomerID != wantCustomer[s.Kind] {
			t.Errorf("sample %s: customer %q, want %q", s.Kind, ev.ProviderCustomerID, wantCustomer[s.Kind])
		}
		if s.Parsed.CustomerID != nil && str(s.Parsed.CustomerID) != ev.ProviderCustomerID {
			t.Errorf("sample %s: customer %q, SDK read %q", s.Kind, ev.ProviderCustomerID, str(s.Parsed.CustomerID))
		}
		wantResource := s.ID
		if s.Parsed.Token != nil {
			wantResource = str(s.Parsed.Token) // the customer-data metadata's own token
		}
		if s.Kind == "check" {
			wantResource = ""
		}
		if ev.ResourceID != wantResource {
			t.Errorf("sample %s: resource %q, want %q", s.Kind, ev.ResourceID, wantResource)
		}
		if ts, err := time.Parse(time.RFC3339, s.Parsed.Timestamp); err != nil || !ts.Equal(ev.OccurredAt) {
			t.Errorf("sample %s: OccurredAt %s, SDK timestamp %q", s.Kind, ev.OccurredAt, s.Parsed.Timestamp)
		}
	}
	evs, err := p.VerifyWebhook(formHeader, form(got.OtherSample.Signature, got.OtherSample.Payload), time.Now())
	if !errors.Is(err, paysync.ErrWebhookSignature) || evs != nil {
		t.Errorf("another merchant's sample: events %+v, error %v; want ErrWebhookSignature", evs, err)
	}

	// The destination URL challenge.
	if got.Challenge == "" || p.WebhookChallenge(challenge) != got.Challenge {
		t.Errorf("WebhookChallenge = %q, SDK verify = %q", p.WebhookChallenge(challenge), got.Challenge)
	}
	if got.BadChallenge != "invalidChallengeError" || p.WebhookChallenge("not-hex!"+challenge) != "" {
		t.Errorf("a non-hex challenge: SDK %q, WebhookChallenge %q; want both refused", got.BadChallenge, p.WebhookChallenge("not-hex!"+challenge))
	}
}
