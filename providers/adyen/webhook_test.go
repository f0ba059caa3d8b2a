package adyen_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adyen/adyen-go-api-library/v9/src/hmacvalidator"
	adyenwebhook "github.com/adyen/adyen-go-api-library/v9/src/webhook"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers/adyen"
	"github.com/paysync/paysync/sandbox"
	"github.com/paysync/paysync/sandbox/adyenemu"
)

// Test HMAC keys, hex as Adyen's Customer Area shows them.
const (
	testHMACKey  = "395EF0A0844D8E1885AD5B38942EE72C57DC5C4D42A8BB22A1433099B237F5FD"
	otherHMACKey = "BA6FA9DF88FA591A5DF4E592C54B26DF3A0626D0AF0FE58AF057E36D7BAC40F5"
)

func webhookProvider(t *testing.T, baseURL, hmacKey string) *adyen.Provider {
	t.Helper()
	creds := map[string]string{"api_key": testKey, "merchant_account": testMerchant}
	if hmacKey != "" {
		creds["hmac_key"] = hmacKey
	}
	return newProvider(t, baseURL, creds)
}

// receiver is paysync's webhook endpoint reduced to the adapter's part:
// verify, record, answer what WebhookAnswer says.
type receiver struct {
	p      *adyen.Provider
	mu     sync.Mutex
	events []paysync.WebhookEvent
	errs   []error
}

func receive(t *testing.T, p *adyen.Provider) (*receiver, string) {
	t.Helper()
	rec := &receiver{p: p}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL + "/webhooks/adyen/org/code"
}

func (rec *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	events, err := rec.p.VerifyWebhook(r.Header, body, time.Now())
	rec.mu.Lock()
	rec.events = append(rec.events, events...)
	if err != nil {
		rec.errs = append(rec.errs, err)
	}
	rec.mu.Unlock()
	status, answer := rec.p.WebhookAnswer(err)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// take returns and forgets the events received so far, failing the test on
// any rejected delivery.
func (rec *receiver) take(t *testing.T) []paysync.WebhookEvent {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, err := range rec.errs {
		t.Errorf("a delivery was rejected: %v", err)
	}
	out := rec.events
	rec.events, rec.errs = nil, nil
	return out
}

func waitWebhooks(t *testing.T, emu *adyenemu.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

func sameEvent(a, b paysync.WebhookEvent) bool {
	return a.ID == b.ID && a.Type == b.Type && a.ProviderCustomerID == b.ProviderCustomerID &&
		a.ResourceID == b.ResourceID && a.OccurredAt.Equal(b.OccurredAt)
}

func byType(events []paysync.WebhookEvent) map[string]paysync.WebhookEvent {
	out := map[string]paysync.WebhookEvent{}
	for _, ev := range events {
		out[ev.Type] = ev
	}
	return out
}

// The whole path: the shopper completes the setup link, Adyen (the
// emulator) signs and posts its webhooks, the adapter verifies them and
// names the shopper, and re-reading that shopper shows the stored card;
// removing the card produces an event that leads to the same re-read.
func TestEmulatorWebhooksLeadToTheShopper(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := webhookProvider(t, srv.URL+"/v71", testHMACKey)
	rec, hookURL := receive(t, p)
	emu.SendWebhooks(hookURL, nil, testHMACKey)
	ctx := context.Background()

	c := customer("cust_hook")
	ref, err := idOf(p.CreateCustomer(ctx, createReq(c)))
	if err != nil {
		t.Fatal(err)
	}
	link, err := p.SetupLink(ctx, c, ref, "", "paysync-link-hook-1")
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(link, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitWebhooks(t, emu)

	start := time.Now().Add(-time.Minute)
	events := rec.take(t)
	got := byType(events)
	if len(events) != 2 || len(got) != 2 {
		t.Fatalf("completing the link gave events %+v, want AUTHORISATION and recurring.token.created", events)
	}
	auth, created := got["AUTHORISATION"], got["recurring.token.created"]
	if auth.ProviderCustomerID != ref || auth.ResourceID == "" || auth.ID != "AUTHORISATION:"+auth.ResourceID+":true" {
		t.Errorf("AUTHORISATION event = %+v, want shopper %s and id AUTHORISATION:<psp>:true", auth, ref)
	}
	if created.ProviderCustomerID != ref || !strings.HasPrefix(created.ID, "recurring.token.created:") || created.ResourceID == "" {
		t.Errorf("recurring.token.created event = %+v", created)
	}
	for _, ev := range events {
		if ev.OccurredAt.Before(start) || ev.OccurredAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s occurred at %s", ev.Type, ev.OccurredAt)
		}
		st, err := p.CustomerStatus(ctx, ev.ProviderCustomerID)
		if err != nil || !st.HasPaymentMethod {
			t.Errorf("re-reading the shopper of %s: %+v, %v; want a payment method", ev.Type, st, err)
		}
	}
	for _, d := range emu.Webhooks() {
		if !d.Accepted || d.Attempts != 1 || d.Status != http.StatusOK || d.Response != "[accepted]" {
			t.Errorf("delivery %s: accepted %v after %d attempts, last answer %d %q", d.Event, d.Accepted, d.Attempts, d.Status, d.Response)
		}
	}

	// Removal: Adyen sends recurring.token.disabled, naming the shopper.
	if err := emu.DetachPaymentMethods(ref); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, emu)
	events = rec.take(t)
	if len(events) != 1 || events[0].Type != "recurring.token.disabled" || events[0].ProviderCustomerID != ref {
		t.Fatalf("removal gave events %+v, want one recurring.token.disabled for %s", events, ref)
	}
	disabled := events[0]
	if disabled.ResourceID != created.ResourceID {
		t.Errorf("disabled token %q, want the stored one %q", disabled.ResourceID, created.ResourceID)
	}
	if st, err := p.CustomerStatus(ctx, disabled.ProviderCustomerID); err != nil || st.HasPaymentMethod {
		t.Errorf("re-reading after removal: %+v, %v; want no payment method", st, err)
	}

	// A redelivery carries the same event id, so paysync's inbox drops it.
	if err := emu.ResendLastWebhook(); err != nil {
		t.Fatal(err)
	}
	events = rec.take(t)
	if len(events) != 1 || !sameEvent(events[0], disabled) {
		t.Errorf("redelivery gave %+v, want %+v again", events, disabled)
	}
}

// deliveries returns what the emulator posts for one stored and one removed
// card: a standard AUTHORISATION, recurring.token.created and .disabled.
func deliveries(t *testing.T, key string) (emu *adyenemu.Emulator, standard []byte, token, tokenSig []byte) {
	t.Helper()
	emu = adyenemu.New()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "[accepted]") }))
	t.Cleanup(sink.Close)
	emu.SendWebhooks(sink.URL, nil, key)
	if _, err := emu.AttachPaymentMethod("shopper_forged"); err != nil {
		t.Fatal(err)
	}
	if err := emu.DetachPaymentMethods("shopper_forged"); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, emu)
	for _, d := range emu.Webhooks() {
		switch d.Event {
		case "AUTHORISATION":
			standard = d.Body
		case "recurring.token.disabled":
			token, tokenSig = d.Body, []byte(d.Header.Get(adyen.HMACSignatureHeader))
		}
	}
	if standard == nil || token == nil || len(tokenSig) == 0 {
		t.Fatalf("the emulator did not send the expected webhooks: %+v", emu.Webhooks())
	}
	return emu, standard, token, tokenSig
}

func signatureHeader(sig string) http.Header {
	h := http.Header{}
	h.Set(adyen.HMACSignatureHeader, sig)
	return h
}

// editItem rewrites the first notification item of a standard body.
func editItem(t *testing.T, body []byte, edit func(item map[string]any)) []byte {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	items := n["notificationItems"].([]any)
	edit(items[0].(map[string]any)["NotificationRequestItem"].(map[string]any))
	out, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyWebhookRejectsForgeries(t *testing.T) {
	t.Parallel()
	_, standard, token, tokenSig := deliveries(t, testHMACKey)
	p := webhookProvider(t, "http://127.0.0.1:9/v71", testHMACKey)
	other := webhookProvider(t, "http://127.0.0.1:9/v71", otherHMACKey)
	unkeyed := webhookProvider(t, "http://127.0.0.1:9/v71", "")
	signedHeader := signatureHeader(string(tokenSig))

	// The genuine deliveries pass, so every rejection below is the edit's.
	if evs, err := p.VerifyWebhook(nil, standard, time.Now()); err != nil || len(evs) != 1 {
		t.Fatalf("genuine standard webhook: %+v, %v", evs, err)
	}
	if evs, err := p.VerifyWebhook(signedHeader, token, time.Now()); err != nil || len(evs) != 1 {
		t.Fatalf("genuine tokenization webhook: %+v, %v", evs, err)
	}

	forgedSig := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	twoItems := func(second func(item map[string]any)) []byte {
		var n map[string]any
		_ = json.Unmarshal(standard, &n)
		items := n["notificationItems"].([]any)
		var copyItem map[string]any
		raw, _ := json.Marshal(items[0])
		_ = json.Unmarshal(raw, &copyItem)
		second(copyItem["NotificationRequestItem"].(map[string]any))
		n["notificationItems"] = append(items, copyItem)
		out, _ := json.Marshal(n)
		return out
	}
	for _, tc := range []struct {
		name   string
		p      *adyen.Provider
		header http.Header
		body   []byte
	}{
		{"forged hmacSignature", p, nil, editItem(t, standard, func(it map[string]any) {
			it["additionalData"].(map[string]any)["hmacSignature"] = forgedSig
		})},
		{"hmacSignature not base64", p, nil, editItem(t, standard, func(it map[string]any) {
			it["additionalData"].(map[string]any)["hmacSignature"] = "not base64!"
		})},
		{"success flipped after signing", p, nil, editItem(t, standard, func(it map[string]any) { it["success"] = "false" })},
		{"amount changed after signing", p, nil, editItem(t, standard, func(it map[string]any) {
			it["amount"].(map[string]any)["value"] = 100
		})},
		{"eventCode changed after signing", p, nil, editItem(t, standard, func(it map[string]any) { it["eventCode"] = "CANCELLATION" })},
		{"missing hmacSignature", p, nil, editItem(t, standard, func(it map[string]any) {
			delete(it["additionalData"].(map[string]any), "hmacSignature")
		})},
		{"missing additionalData", p, nil, editItem(t, standard, func(it map[string]any) { delete(it, "additionalData") })},
		{"signed with another key", other, nil, standard},
		{"one bad item of two", p, nil, twoItems(func(it map[string]any) { it["pspReference"] = "FORGEDPSP0000001" })},
		{"no key configured", unkeyed, nil, standard},
		{"tokenization without header", p, nil, token},
		{"tokenization with another key", other, signedHeader, token},
		{"tokenization body altered", p, signedHeader, bytes.Replace(token, []byte("shopper_forged"), []byte("shopper_victim"), 1)},
		{"tokenization forged header", p, signatureHeader(forgedSig), token},
		{"standard body passed off with a header", p, signatureHeader(forgedSig),
			editItem(t, standard, func(it map[string]any) { delete(it["additionalData"].(map[string]any), "hmacSignature") })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := tc.p.VerifyWebhook(tc.header, tc.body, time.Now())
			if !errors.Is(err, paysync.ErrWebhookSignature) || evs != nil {
				t.Fatalf("got %+v, %v; want no events and ErrWebhookSignature", evs, err)
			}
			if status, answer := tc.p.WebhookAnswer(err); status != http.StatusUnauthorized || answer == "" || answer == "[accepted]" {
				t.Errorf("answer %d %q, want 401 with a short reason", status, answer)
			}
		})
	}

	// Adyen's HMAC covers eight fields, not additionalData: the shopper an
	// item names is not authenticated. That is why paysync only takes it as
	// a hint and re-reads the shopper's stored methods at Adyen.
	moved := editItem(t, standard, func(it map[string]any) {
		it["additionalData"].(map[string]any)["recurring.shopperReference"] = "another_shopper"
	})
	if evs, err := p.VerifyWebhook(nil, moved, time.Now()); err != nil || len(evs) != 1 || evs[0].ProviderCustomerID != "another_shopper" {
		t.Errorf("an edit outside the signed fields: %+v, %v", evs, err)
	}
}

// signWithGoLibrary signs an item with the official Go library's
// hmacvalidator and renders it as Adyen's JSON.
func signWithGoLibrary(t *testing.T, key string, item adyenwebhook.NotificationRequestItem) map[string]any {
	t.Helper()
	sig, err := hmacvalidator.CalculateHmac(item, key)
	if err != nil {
		t.Fatal(err)
	}
	additional := map[string]any{"hmacSignature": sig}
	if item.AdditionalData != nil {
		for k, v := range *item.AdditionalData {
			additional[k] = v
		}
	}
	out := map[string]any{
		"additionalData":      additional,
		"amount":              map[string]any{"value": item.Amount.Value, "currency": item.Amount.Currency},
		"eventCode":           item.EventCode,
		"merchantAccountCode": item.MerchantAccountCode,
		"merchantReference":   item.MerchantReference,
		"pspReference":        item.PspReference,
		"success":             item.Success,
	}
	if item.OriginalReference != "" {
		out["originalReference"] = item.OriginalReference
	}
	if item.EventDate != nil {
		out["eventDate"] = item.EventDate.Format("2006-01-02T15:04:05-07:00")
	}
	return out
}

func notification(items ...map[string]any) []byte {
	wrapped := make([]any, len(items))
	for i, it := range items {
		wrapped[i] = map[string]any{"NotificationRequestItem": it}
	}
	body, _ := json.Marshal(map[string]any{"live": "false", "notificationItems": wrapped})
	return body
}

func TestVerifyWebhookParsesEvents(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t, "http://127.0.0.1:9/v71", testHMACKey)
	cet := time.FixedZone("CET", 3600)
	eventDate := time.Date(2021, 7, 17, 13, 42, 40, 0, cet)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	body := notification(
		// A token stored outside a payment link: RECURRING_CONTRACT names the
		// shopper in additionalData.shopperReference.
		signWithGoLibrary(t, testHMACKey, adyenwebhook.NotificationRequestItem{
			AdditionalData:      &map[string]interface{}{"shopperReference": "shopper_rc"},
			Amount:              adyenwebhook.Amount{Currency: "EUR", Value: 0},
			EventCode:           "RECURRING_CONTRACT",
			EventDate:           &eventDate,
			MerchantAccountCode: testMerchant,
			MerchantReference:   "ref-rc",
			OriginalReference:   "PAYPSP0000000001",
			PspReference:        "8415000000000001",
			Success:             "true",
		}),
		// A refused zero-amount authorisation of the newer kind.
		signWithGoLibrary(t, testHMACKey, adyenwebhook.NotificationRequestItem{
			AdditionalData:      &map[string]interface{}{"tokenization.shopperReference": "shopper_tok"},
			Amount:              adyenwebhook.Amount{Currency: "USD", Value: 0},
			EventCode:           "AUTHORISATION",
			MerchantAccountCode: testMerchant,
			MerchantReference:   "ref-refused",
			PspReference:        "PSPREFUSED000001",
			Success:             "false",
		}),
		// A capture names no shopper: only the payment.
		signWithGoLibrary(t, testHMACKey, adyenwebhook.NotificationRequestItem{
			Amount:              adyenwebhook.Amount{Currency: "EUR", Value: 1130},
			EventCode:           "CAPTURE",
			EventDate:           &eventDate,
			MerchantAccountCode: testMerchant,
			MerchantReference:   "ref-capture",
			OriginalReference:   "PAYPSP0000000001",
			PspReference:        "CAPTUREPSP000001",
			Success:             "true",
		}),
	)
	events, err := p.VerifyWebhook(http.Header{}, body, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []paysync.WebhookEvent{
		{ID: "RECURRING_CONTRACT:8415000000000001:true", Type: "RECURRING_CONTRACT", ProviderCustomerID: "shopper_rc", ResourceID: "8415000000000001", OccurredAt: eventDate},
		{ID: "AUTHORISATION:PSPREFUSED000001:false", Type: "AUTHORISATION", ProviderCustomerID: "shopper_tok", ResourceID: "PSPREFUSED000001", OccurredAt: now},
		{ID: "CAPTURE:CAPTUREPSP000001:true", Type: "CAPTURE", ResourceID: "CAPTUREPSP000001", OccurredAt: eventDate},
	}
	if len(events) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(events), events, len(want))
	}
	for i := range want {
		if got := events[i]; !sameEvent(got, want[i]) {
			t.Errorf("event %d = %+v, want %+v", i, got, want[i])
		}
	}
	// The same delivery again gives the same ids.
	again, err := p.VerifyWebhook(http.Header{}, body, now.Add(time.Hour))
	if err != nil || len(again) != 3 || again[0].ID != events[0].ID || again[2].ID != events[2].ID {
		t.Errorf("redelivery: %+v, %v", again, err)
	}
}

func TestVerifyWebhookMalformed(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t, "http://127.0.0.1:9/v71", testHMACKey)
	for _, body := range []string{
		`not json`,
		`[]`,
		`{"live":"false","notificationItems":[]}`,
		`{"live":"false","notificationItems":[{}]}`,
		`{"live":"false","notificationItems":{"NotificationRequestItem":{}}}`,
		`{"notificationItems":[{"NotificationRequestItem":{"pspReference":{"a":1},"additionalData":{"hmacSignature":"x"}}}]}`,
	} {
		_, err := p.VerifyWebhook(nil, []byte(body), time.Now())
		if !errors.Is(err, adyen.ErrMalformedWebhook) || errors.Is(err, paysync.ErrWebhookSignature) {
			t.Errorf("%s: got %v, want ErrMalformedWebhook", body, err)
		}
		if status, _ := p.WebhookAnswer(err); status != http.StatusBadRequest {
			t.Errorf("%s: answer %d, want 400", body, status)
		}
	}
}

func TestWebhookAnswer(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t, "http://127.0.0.1:9/v71", testHMACKey)
	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{nil, http.StatusOK, "[accepted]"},
		{errors.Join(errors.New("item 0"), paysync.ErrWebhookSignature), http.StatusUnauthorized, "invalid HMAC signature"},
		{adyen.ErrMalformedWebhook, http.StatusBadRequest, "malformed notification"},
		{errors.New("inbox: database is down"), http.StatusInternalServerError, "notification not stored, retry later"},
	} {
		if status, body := p.WebhookAnswer(tc.err); status != tc.status || body != tc.body {
			t.Errorf("WebhookAnswer(%v) = %d %q, want %d %q", tc.err, status, body, tc.status, tc.body)
		}
	}
}

func TestWebhookCredentials(t *testing.T) {
	t.Parallel()
	// A sandbox connection verifies what the sandbox signs.
	_, standard, token, tokenSig := deliveries(t, adyenemu.SandboxWebhookSecret)
	sb, err := adyen.New(paysync.Connection{Provider: paysync.Adyen, Code: "sandbox", Sandbox: true,
		Credentials: sandbox.Credentials(paysync.Adyen)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if evs, err := sb.VerifyWebhook(nil, standard, time.Now()); err != nil || len(evs) != 1 || evs[0].ProviderCustomerID != "shopper_forged" {
		t.Errorf("sandbox standard webhook: %+v, %v", evs, err)
	}
	if evs, err := sb.VerifyWebhook(signatureHeader(string(tokenSig)), token, time.Now()); err != nil || len(evs) != 1 {
		t.Errorf("sandbox tokenization webhook: %+v, %v", evs, err)
	}
	// A connection without hmac_key falls back to no key.
	live := webhookProvider(t, "http://127.0.0.1:9/v71", "")
	if _, err := live.VerifyWebhook(nil, standard, time.Now()); !errors.Is(err, paysync.ErrWebhookSignature) {
		t.Errorf("a connection without hmac_key accepted a webhook: %v", err)
	}
	for _, bad := range []string{"not-hex", "ABC"} {
		_, err := adyen.New(paysync.Connection{Provider: paysync.Adyen, Code: "c",
			Credentials: map[string]string{"api_key": "k", "merchant_account": "M", "hmac_key": bad}}, nil)
		if err == nil || !strings.Contains(err.Error(), "credentials.hmac_key") || paysync.ErrorCode(err) != paysync.EMISSINGCONFIG {
			t.Errorf("hmac_key %q: error %v, want a missing-config error naming credentials.hmac_key", bad, err)
		}
	}
}
