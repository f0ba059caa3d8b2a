package braintree_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers/braintree"
	"github.com/paysync/paysync/sandbox/braintreeemu"
)

// The test's own signing, written from Braintree's documented scheme and
// independent of the adapter's.
func sign(publicKey, privateKey, payload string) string {
	key := sha1.Sum([]byte(privateKey))
	m := hmac.New(sha1.New, key[:])
	m.Write([]byte(payload))
	return publicKey + "|" + hex.EncodeToString(m.Sum(nil))
}

func form(signature, payload string) []byte {
	v := url.Values{}
	if signature != "" {
		v.Set("bt_signature", signature)
	}
	if payload != "" {
		v.Set("bt_payload", payload)
	}
	return []byte(v.Encode())
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

func notificationXML(kind, timestamp, subject string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<notification>
  <kind>` + kind + `</kind>
  <timestamp type="datetime">` + timestamp + `</timestamp>
  <subject>` + subject + `</subject>
</notification>
`
}

// payload is base64 in one line plus "\n", as the SDKs' samples are.
func payload(xml string) string { return base64.StdEncoding.EncodeToString([]byte(xml)) + "\n" }

// wrapped is base64 in 60-character lines, as Ruby's Base64.encode64 writes it.
func wrapped(xml string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(xml))
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	return b.String() + enc + "\n"
}

func webhookProvider(t *testing.T, publicKey, privateKey string) *braintree.Provider {
	t.Helper()
	p, err := braintree.New(paysync.Connection{Provider: paysync.Braintree, Code: "bt", Credentials: map[string]string{
		"merchant_id": braintreeemu.MerchantID, "public_key": publicKey, "private_key": privateKey,
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const revokedSubject = `<paypal-account>
      <billing-agreement-id>B-1</billing-agreement-id>
      <customer-id>cust_42</customer-id>
      <default type="boolean">true</default>
      <token>tok_pp</token>
      <revoked-at type="datetime">2024-05-01T10:00:00Z</revoked-at>
    </paypal-account>`

// receiver is a paysync-like endpoint: it verifies every delivery with p,
// answers as WebhookAnswer says and keeps the events and raw bodies.
type receiver struct {
	p      *braintree.Provider
	mu     sync.Mutex
	events []paysync.WebhookEvent
	bodies [][]byte
	errs   []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	evs, err := rc.p.VerifyWebhook(r.Header, body, time.Now())
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.events = append(rc.events, evs...)
	if err != nil {
		rc.errs = append(rc.errs, err)
	}
	rc.mu.Unlock()
	status, text := rc.p.WebhookAnswer(err)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

func (rc *receiver) snapshot() ([]paysync.WebhookEvent, [][]byte, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]paysync.WebhookEvent(nil), rc.events...), append([][]byte(nil), rc.bodies...), append([]error(nil), rc.errs...)
}

// TestEmulatorWebhooksVerify follows a customer through the emulator:
// every notification it sends verifies, names the customer, and re-reading
// the customer (what paysync's refresh job does) gives the new state.
func TestEmulatorWebhooksVerify(t *testing.T) {
	t.Parallel()
	p, emu, _ := start(t)
	rc := &receiver{p: p}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	emu.SendWebhooks(hook.URL+"/webhooks/braintree/org/bt", nil, "")

	ctx := context.Background()
	id, err := idOf(p.CreateCustomer(ctx, request(&paysync.Customer{Name: "Webhook Customer"}, newLink(1))))
	if err != nil {
		t.Fatal(err)
	}
	token, err := emu.AttachPaymentMethod(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.WaitWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	begin := time.Now().Add(-time.Minute)
	if err := emu.RevokePaymentMethods(id); err != nil {
		t.Fatal(err)
	}
	if err := emu.WaitWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}

	events, bodies, errs := rc.snapshot()
	if len(errs) != 0 {
		t.Fatalf("receiver rejected deliveries: %v", errs)
	}
	if len(events) != 2 {
		t.Fatalf("events = %+v, want 2", events)
	}
	want := []struct{ kind string }{{braintree.KindPaymentMethodCustomerDataUpdated}, {braintree.KindPaymentMethodRevokedByCustomer}}
	for i, ev := range events {
		if ev.Type != want[i].kind || ev.ProviderCustomerID != id || ev.ResourceID != token {
			t.Errorf("event %d = %+v, want %s for customer %s, token %s", i, ev, want[i].kind, id, token)
		}
		if len(ev.ID) != 64 {
			t.Errorf("event %d ID = %q, want 64 hex digits", i, ev.ID)
		}
		if ev.OccurredAt.Before(begin) || ev.OccurredAt.After(time.Now().Add(time.Second)) {
			t.Errorf("event %d OccurredAt = %s, want about now", i, ev.OccurredAt)
		}
	}
	if events[0].ID == events[1].ID {
		t.Errorf("two notifications share ID %s", events[0].ID)
	}
	// The emulator wraps as Ruby's Base64.encode64: 60 characters, "\n" after each line.
	form, err := url.ParseQuery(string(bodies[1]))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(form.Get("bt_payload"), "\n")
	if len(lines) < 3 || len(lines[0]) != 60 || lines[len(lines)-1] != "" {
		t.Errorf("bt_payload lines = %q..., want 60-character lines ending in a newline", lines[0])
	}

	// The refresh job re-reads the customer, never the event.
	st, err := p.CustomerStatus(ctx, events[1].ProviderCustomerID)
	if err != nil || st.HasPaymentMethod {
		t.Errorf("status after revocation = %+v, %v; want no payment method", st, err)
	}

	// A replay is the same delivery: same event ID.
	if err := emu.ResendLastWebhook(); err != nil {
		t.Fatal(err)
	}
	events, bodies, _ = rc.snapshot()
	if len(events) != 3 || events[2] != events[1] {
		t.Errorf("replayed event = %+v, want %+v", events[len(events)-1], events[1])
	}
	if string(bodies[2]) != string(bodies[1]) {
		t.Error("the replayed body differs from the original")
	}
}

// TestEmulatorWebhooksToAnotherKeyAreRefused: a connection with other keys
// answers 403 to every attempt and the emulator gives up.
func TestEmulatorWebhooksToAnotherKeyAreRefused(t *testing.T) {
	t.Parallel()
	p, emu, _ := start(t)
	other := &receiver{p: webhookProvider(t, "other_public_key", braintreeemu.PrivateKey)}
	hook := httptest.NewServer(other)
	t.Cleanup(hook.Close)
	emu.SendWebhooks(hook.URL, nil, "")
	id, err := idOf(p.CreateCustomer(context.Background(), request(&paysync.Customer{Name: "Refused"}, newLink(1))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	if err := emu.WaitWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	events, _, errs := other.snapshot()
	if len(events) != 0 || len(errs) == 0 {
		t.Fatalf("events %+v, errors %v; want only rejections", events, errs)
	}
	for _, err := range errs {
		if !errors.Is(err, paysync.ErrWebhookSignature) {
			t.Errorf("error %v does not wrap ErrWebhookSignature", err)
		}
	}
	log := emu.WebhookLog()
	if len(log) != 1 || log[0].Status != http.StatusForbidden || log[0].Attempts != 3 {
		t.Errorf("webhook log = %+v, want one delivery refused 403 after 3 attempts", log)
	}
}

func TestVerifyWebhookRejects(t *testing.T) {
	t.Parallel()
	pub, priv := braintreeemu.PublicKey, braintreeemu.PrivateKey
	p := webhookProvider(t, pub, priv)
	good := payload(notificationXML(braintree.KindPaymentMethodRevokedByCustomer, "2024-05-01T10:00:00Z", revokedSubject))
	goodSig := sign(pub, priv, good)
	if _, err := p.VerifyWebhook(formHeader, form(goodSig, good), time.Now()); err != nil {
		t.Fatalf("the valid delivery is refused: %v", err)
	}
	altered := payload(strings.Replace(notificationXML(braintree.KindPaymentMethodRevokedByCustomer, "2024-05-01T10:00:00Z", revokedSubject), "cust_42", "cust_43", 1))
	tests := map[string][]byte{
		"forged signature":             form(pub+"|"+strings.Repeat("ab", 20), good),
		"signature not hex":            form(pub+"|not-hex", good),
		"altered payload":              form(goodSig, altered),
		"missing bt_signature":         form("", good),
		"missing bt_payload":           form(goodSig, ""),
		"empty body":                   nil,
		"another public key":           form(sign("other_public_key", "other_private_key", good), good),
		"another key's public name":    form(sign("other_public_key", priv, good), good),
		"our public key, other secret": form(sign(pub, "other_private_key", good), good),
		"no pair separator":            form(strings.Replace(goodSig, "|", "", 1), good),
		"illegal payload characters":   form(sign(pub, priv, good+"<"), good+"<"),
		"not a form":                   []byte("%zz"),
		"signature of another payload": form(sign(pub, priv, altered), good),
	}
	for name, body := range tests {
		evs, err := p.VerifyWebhook(formHeader, body, time.Now())
		if !errors.Is(err, paysync.ErrWebhookSignature) || evs != nil {
			t.Errorf("%s: events %+v, error %v; want ErrWebhookSignature", name, evs, err)
			continue
		}
		if status, _ := p.WebhookAnswer(err); status != http.StatusForbidden {
			t.Errorf("%s: answered %d, want 403", name, status)
		}
	}
}

func TestVerifyWebhookAccepts(t *testing.T) {
	t.Parallel()
	pub, priv := braintreeemu.PublicKey, braintreeemu.PrivateKey
	p := webhookProvider(t, pub, priv)
	xml := notificationXML(braintree.KindPaymentMethodRevokedByCustomer, "2024-05-01T10:00:00Z", revokedSubject)
	one, lines := payload(xml), wrapped(xml)
	tests := map[string][]byte{
		"one line":                         form(sign(pub, priv, one), one),
		"wrapped as Ruby's encode64":       form(sign(pub, priv, lines), lines),
		"final newline trimmed in transit": form(sign(pub, priv, lines), strings.TrimSuffix(lines, "\n")),
		"signed without the newline":       form(sign(pub, priv, strings.TrimSuffix(one, "\n")), strings.TrimSuffix(one, "\n")),
		"one pair per API key":             form(sign("old_public_key", "old_private_key", one)+"&"+sign(pub, priv, one), one),
		"uppercase hex":                    form(pub+"|"+strings.ToUpper(strings.TrimPrefix(sign(pub, priv, one), pub+"|")), one),
	}
	var ids []string
	for name, body := range tests {
		evs, err := p.VerifyWebhook(formHeader, body, time.Now())
		if err != nil || len(evs) != 1 {
			t.Errorf("%s: events %+v, error %v; want one event", name, evs, err)
			continue
		}
		ev := evs[0]
		if ev.Type != braintree.KindPaymentMethodRevokedByCustomer || ev.ProviderCustomerID != "cust_42" || ev.ResourceID != "tok_pp" ||
			!ev.OccurredAt.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: event %+v", name, ev)
		}
		ids = append(ids, ev.ID)
	}
	// The ID belongs to the notification, not to its wrapping.
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("IDs differ for one notification: %q", ids)
			break
		}
	}
	if status, body := p.WebhookAnswer(nil); status != http.StatusOK || body != "" {
		t.Errorf("WebhookAnswer(nil) = %d %q, want 200 and an empty body", status, body)
	}
}

func TestWebhookEventsByKind(t *testing.T) {
	t.Parallel()
	pub, priv := "pk", "sk"
	p := webhookProvider(t, pub, priv)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, kind, timestamp, subject string
		customer, resource             string
		at                             time.Time
	}{
		{"revoked card", braintree.KindPaymentMethodRevokedByCustomer, "2024-05-01T10:00:00Z",
			`<credit-card><customer-id>c1</customer-id><token>t1</token></credit-card>`, "c1", "t1", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"granted method revoked", braintree.KindGrantedPaymentMethodRevoked, "2024-05-01T10:00:00Z",
			`<venmo-account><token>t2</token><customer-id>c2</customer-id></venmo-account>`, "c2", "t2", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"customer data updated", braintree.KindPaymentMethodCustomerDataUpdated, "2024-05-01T10:00:00.5Z",
			`<payment-method-customer-data-updated-metadata><token>t3</token><payment-method><paypal-account>
			<customer-id>c3</customer-id><token>t3</token></paypal-account></payment-method></payment-method-customer-data-updated-metadata>`,
			"c3", "t3", time.Date(2024, 5, 1, 10, 0, 0, 5e8, time.UTC)},
		{"nil customer id", braintree.KindPaymentMethodRevokedByCustomer, "2024-05-01T10:00:00Z",
			`<paypal-account><customer-id nil="true"/><token>t4</token></paypal-account>`, "", "t4", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"subscription charged", "subscription_charged_unsuccessfully", "2024-05-01T12:00:00+02:00",
			`<subscription><id>s1</id><payment-method-token>t5</payment-method-token><transactions type="array">
			<transaction><id>x1</id><customer><id>c5</id><email>a@example.com</email></customer></transaction></transactions></subscription>`,
			"c5", "s1", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"subscription without transactions", "subscription_canceled", "2024-05-01T10:00:00Z",
			`<subscription><id>s2</id><transactions type="array"/></subscription>`, "", "s2", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"transaction names no customer to refresh", "transaction_settled", "2024-05-01T10:00:00Z",
			`<transaction><id>x2</id><customer><id>c6</id></customer><customer-id>c6</customer-id></transaction>`, "", "x2", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"check", "check", "2024-05-01T10:00:00Z", `<check type="boolean">true</check>`, "", "", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"no timestamp", "check", "", `<check type="boolean">true</check>`, "", "", now},
		{"no subject", "disbursement", "2024-05-01T10:00:00Z", ``, "", "", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		pl := wrapped(notificationXML(tc.kind, tc.timestamp, tc.subject))
		evs, err := p.VerifyWebhook(formHeader, form(sign(pub, priv, pl), pl), now)
		if err != nil || len(evs) != 1 {
			t.Errorf("%s: events %+v, error %v", tc.name, evs, err)
			continue
		}
		ev := evs[0]
		if ev.Type != tc.kind || ev.ProviderCustomerID != tc.customer || ev.ResourceID != tc.resource || !ev.OccurredAt.Equal(tc.at) {
			t.Errorf("%s: event %+v, want type %s, customer %q, resource %q, at %s", tc.name, ev, tc.kind, tc.customer, tc.resource, tc.at)
		}
	}
}

// TestVerifyWebhookBadPayload: signed, but not a notification. That is
// not a signature failure and is answered 400.
func TestVerifyWebhookBadPayload(t *testing.T) {
	t.Parallel()
	pub, priv := "pk", "sk"
	p := webhookProvider(t, pub, priv)
	for name, pl := range map[string]string{
		"not base64":      "QUJD=QUJD\n",
		"not XML":         payload("hello"),
		"truncated XML":   payload("<notification><kind>check</kind>"),
		"other root":      payload("<customer><id>1</id></customer>"),
		"no kind":         payload(`<notification><timestamp type="datetime">2024-05-01T10:00:00Z</timestamp></notification>`),
		"nested too deep": payload("<notification><kind>check</kind>" + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + "</notification>"),
	} {
		evs, err := p.VerifyWebhook(formHeader, form(sign(pub, priv, pl), pl), time.Now())
		if !errors.Is(err, braintree.ErrWebhookPayload) || errors.Is(err, paysync.ErrWebhookSignature) || evs != nil {
			t.Errorf("%s: events %+v, error %v; want ErrWebhookPayload only", name, evs, err)
			continue
		}
		if status, _ := p.WebhookAnswer(err); status != http.StatusBadRequest {
			t.Errorf("%s: answered %d, want 400", name, status)
		}
	}
}

func TestWebhookAnswer(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t, "pk", "sk")
	for _, tc := range []struct {
		err    error
		status int
	}{
		{nil, http.StatusOK},
		{fmt.Errorf("x: %w", paysync.ErrWebhookSignature), http.StatusForbidden},
		{fmt.Errorf("x: %w", braintree.ErrWebhookPayload), http.StatusBadRequest},
		{errors.New("inbox: database is down"), http.StatusInternalServerError},
	} {
		status, body := p.WebhookAnswer(tc.err)
		if status != tc.status {
			t.Errorf("WebhookAnswer(%v) = %d, want %d", tc.err, status, tc.status)
		}
		if tc.err != nil && strings.Contains(body, tc.err.Error()) {
			t.Errorf("WebhookAnswer(%v) body %q repeats the error", tc.err, body)
		}
	}
}

func TestWebhookChallengeRefusesNonHex(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t, "pk", "sk")
	good := "0123456789abcdef0123"
	if got, want := p.WebhookChallenge(good), sign("pk", "sk", good); got != want {
		t.Errorf("WebhookChallenge(%q) = %q, want %q", good, got, want)
	}
	// A payload signed through the challenge would be a forged webhook.
	forged := payload(notificationXML(braintree.KindPaymentMethodRevokedByCustomer, "2024-05-01T10:00:00Z", revokedSubject))
	for _, c := range []string{"", "0123456789abcdef012", strings.Repeat("a", 33), "0123456789ABCDEF0123", "0123456789abcdef012g", forged, strings.TrimSpace(forged)} {
		if got := p.WebhookChallenge(c); got != "" {
			t.Errorf("WebhookChallenge(%q) = %q, want \"\"", c, got)
		}
	}
}
