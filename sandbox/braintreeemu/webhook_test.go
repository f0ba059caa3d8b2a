package braintreeemu_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paysync/paysync/sandbox/braintreeemu"
)

// hookSink records what a webhook destination receives.
type hookSink struct {
	mu       sync.Mutex
	received []received
	// answer picks the status of the n-th request (from 1); 200 when nil.
	answer func(n int) int
	n      atomic.Int64
}

type received struct {
	contentType, signature, payload, body string
}

func (s *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	s.received = append(s.received, received{r.Header.Get("Content-Type"), f.Get("bt_signature"), f.Get("bt_payload"), string(body)})
	s.mu.Unlock()
	status := http.StatusOK
	if s.answer != nil {
		status = s.answer(int(s.n.Add(1)))
	}
	w.WriteHeader(status)
}

func (s *hookSink) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

func waitWebhooks(t *testing.T, emu *braintreeemu.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

func sink(t *testing.T, answer func(int) int) (*hookSink, string) {
	t.Helper()
	s := &hookSink{answer: answer}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/webhooks/braintree/org/code"
}

type paymentMethodXML struct {
	CustomerID string `xml:"customer-id"`
	Token      string `xml:"token"`
	RevokedAt  string `xml:"revoked-at"`
}

type notificationXML struct {
	XMLName   xml.Name `xml:"notification"`
	Kind      string   `xml:"kind"`
	Timestamp string   `xml:"timestamp"`
	Subject   struct {
		CreditCard *paymentMethodXML `xml:"credit-card"`
		PayPal     *paymentMethodXML `xml:"paypal-account"`
		Metadata   *struct {
			Token         string `xml:"token"`
			PaymentMethod struct {
				CreditCard *paymentMethodXML `xml:"credit-card"`
				PayPal     *paymentMethodXML `xml:"paypal-account"`
			} `xml:"payment-method"`
			Updated string `xml:"datetime-updated"`
		} `xml:"payment-method-customer-data-updated-metadata"`
	} `xml:"subject"`
}

// check verifies one delivery as Braintree's SDKs do, with the test's
// own HMAC, and decodes it.
func check(t *testing.T, r received) (notificationXML, string, *paymentMethodXML) {
	t.Helper()
	if r.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", r.contentType)
	}
	key := sha1.Sum([]byte(braintreeemu.PrivateKey))
	m := hmac.New(sha1.New, key[:])
	m.Write([]byte(r.payload))
	if want := braintreeemu.PublicKey + "|" + hex.EncodeToString(m.Sum(nil)); r.signature != want {
		t.Errorf("bt_signature = %q, want %q", r.signature, want)
	}
	lines := strings.Split(r.payload, "\n")
	if lines[len(lines)-1] != "" {
		t.Errorf("bt_payload does not end in a newline")
	}
	for i, l := range lines[:len(lines)-1] {
		if len(l) > 60 || len(l) < 60 && i < len(lines)-2 {
			t.Errorf("bt_payload line %d has %d characters, want 60 (the last one at most 60)", i, len(l))
		}
	}
	raw, err := base64.StdEncoding.DecodeString(r.payload)
	if err != nil {
		t.Fatalf("bt_payload: %v", err)
	}
	var n notificationXML
	if err := xml.Unmarshal(raw, &n); err != nil {
		t.Fatalf("notification XML: %v\n%s", err, raw)
	}
	if _, err := time.Parse(time.RFC3339, n.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", n.Timestamp, err)
	}
	s := n.Subject
	switch {
	case s.Metadata != nil:
		pm := s.Metadata.PaymentMethod.CreditCard
		if pm == nil {
			pm = s.Metadata.PaymentMethod.PayPal
		}
		if pm == nil || s.Metadata.Token != pm.Token || s.Metadata.Updated == "" {
			t.Errorf("customer data metadata = %+v", s.Metadata)
			return n, "", &paymentMethodXML{}
		}
		return n, "metadata", pm
	case s.CreditCard != nil:
		return n, "credit-card", s.CreditCard
	case s.PayPal != nil:
		return n, "paypal-account", s.PayPal
	}
	t.Errorf("subject names no payment method:\n%s", raw)
	return n, "", &paymentMethodXML{}
}

func createCustomer(t *testing.T, srv *httptest.Server, id string) {
	t.Helper()
	if status, _, body := call(t, srv, "POST", customersPath, "<customer><id>"+id+"</id></customer>", nil); status != http.StatusCreated {
		t.Fatalf("create customer: %d %s", status, body)
	}
}

func TestWebhooksFollowPaymentMethods(t *testing.T) {
	t.Parallel()
	emu, srv := serve(t)
	s, hookURL := sink(t, nil)
	createCustomer(t, srv, "wh_1")

	// Nothing is sent before SendWebhooks.
	if _, err := emu.AttachPaymentMethod("wh_1"); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, emu)
	if got := s.all(); len(got) != 0 {
		t.Fatalf("%d deliveries before SendWebhooks", len(got))
	}

	emu.SendWebhooks(hookURL, nil, "")
	resp, err := http.Post(srv.URL+"/_sandbox/customers/wh_1/payment_methods", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pmBody := `<payment-method><customer-id>wh_1</customer-id><payment-method-nonce>fake-paypal-future-nonce</payment-method-nonce></payment-method>`
	if status, _, body := call(t, srv, "POST", "/merchants/"+braintreeemu.MerchantID+"/payment_methods", pmBody, nil); status != http.StatusCreated {
		t.Fatalf("vault PayPal: %d %s", status, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sandbox/customers/wh_1/payment_methods", nil)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitWebhooks(t, emu)

	got := s.all()
	want := []struct{ kind, element string }{
		{braintreeemu.KindCustomerDataUpdated, "metadata"},
		{braintreeemu.KindCustomerDataUpdated, "metadata"},
		{braintreeemu.KindRevoked, "credit-card"},
		{braintreeemu.KindRevoked, "credit-card"},
		{braintreeemu.KindRevoked, "paypal-account"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d deliveries, want %d", len(got), len(want))
	}
	tokens := map[string]bool{}
	for i, r := range got {
		n, element, pm := check(t, r)
		if n.Kind != want[i].kind || element != want[i].element || pm.CustomerID != "wh_1" || pm.Token == "" {
			t.Errorf("delivery %d: kind %s, subject %s %+v; want %s %s for wh_1", i, n.Kind, element, pm, want[i].kind, want[i].element)
		}
		if (n.Kind == braintreeemu.KindRevoked) != (pm.RevokedAt != "") {
			t.Errorf("delivery %d: %s with revoked-at %q", i, n.Kind, pm.RevokedAt)
		}
		if n.Kind == braintreeemu.KindRevoked {
			tokens[pm.Token] = true
		}
	}
	if len(tokens) != 3 {
		t.Errorf("revoked tokens %v, want the 3 vaulted", tokens)
	}
	log := emu.WebhookLog()
	if len(log) != len(want) {
		t.Fatalf("webhook log has %d entries, want %d", len(log), len(want))
	}
	for i, d := range log {
		if !d.OK() || d.Attempts != 1 || d.URL != hookURL || d.Kind != want[i].kind || d.Err != nil {
			t.Errorf("log %d = %+v", i, d)
		}
	}

	// Removing a payment method through the API is the merchant's doing:
	// Braintree sends nothing, nor does the emulator.
	token, err := emu.AttachPaymentMethod("wh_1")
	if err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, emu)
	if status, _, _ := call(t, srv, "DELETE", "/merchants/"+braintreeemu.MerchantID+"/payment_methods/any/"+token, "", nil); status != http.StatusOK {
		t.Fatalf("delete payment method: %d", status)
	}
	waitWebhooks(t, emu)
	if n := len(s.all()); n != len(want)+1 {
		t.Errorf("%d deliveries after an API delete, want %d", n, len(want)+1)
	}
}

func TestWebhookRetriesThenGivesUp(t *testing.T) {
	t.Parallel()
	emu, srv := serve(t)
	createCustomer(t, srv, "wh_retry")
	flaky, flakyURL := sink(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	down, downURL := sink(t, func(int) int { return http.StatusServiceUnavailable })
	emu.SendWebhooks(flakyURL, nil, "")
	emu.SendWebhooks(downURL, nil, "")
	emu.SendWebhooks(flakyURL, &http.Client{Timeout: 5 * time.Second}, "") // same destination: no second copy

	begin := time.Now()
	if _, err := emu.AttachPaymentMethod("wh_retry"); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, emu)
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("two deliveries with retries took %s", d)
	}
	f, d := flaky.all(), down.all()
	if len(f) != 3 || len(d) != 3 {
		t.Fatalf("flaky destination got %d requests, down destination %d; want 3 each", len(f), len(d))
	}
	for _, r := range append(f[1:], d...) {
		if r.body != f[0].body {
			t.Error("a retry differs from the first attempt")
		}
	}
	log := emu.WebhookLog()
	if len(log) != 2 || log[0].URL != flakyURL || !log[0].OK() || log[0].Attempts != 3 ||
		log[1].URL != downURL || log[1].OK() || log[1].Status != http.StatusServiceUnavailable || log[1].Attempts != 3 {
		t.Errorf("webhook log = %+v", log)
	}
}

func TestResendLastWebhook(t *testing.T) {
	t.Parallel()
	emu, srv := serve(t)
	if err := emu.ResendLastWebhook(); err == nil {
		t.Error("ResendLastWebhook with nothing sent: no error")
	}
	createCustomer(t, srv, "wh_resend")
	s, hookURL := sink(t, nil)
	emu.SendWebhooks(hookURL, nil, "")
	if _, err := emu.AttachPaymentMethod("wh_resend"); err != nil {
		t.Fatal(err)
	}
	if err := emu.RevokePaymentMethods("wh_resend"); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, emu)
	if err := emu.ResendLastWebhook(); err != nil {
		t.Fatal(err)
	}
	got := s.all()
	if len(got) != 3 || got[2].body != got[1].body || got[1].body == got[0].body {
		t.Fatalf("deliveries: %d; the resend must repeat the last one byte for byte", len(got))
	}
	if n, _, _ := check(t, got[2]); n.Kind != braintreeemu.KindRevoked {
		t.Errorf("resent %s, want the revocation", n.Kind)
	}

	// A destination that refuses makes the resend fail.
	_, refusingURL := sink(t, func(int) int { return http.StatusForbidden })
	emu.SendWebhooks(refusingURL, nil, "")
	err := emu.ResendLastWebhook()
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), hookURL) {
		t.Errorf("resend to a refusing destination: %v; want a 403 error naming only it", err)
	}
}

func TestWebhooksConcurrent(t *testing.T) {
	t.Parallel()
	emu, srv := serve(t)
	s, hookURL := sink(t, nil)
	emu.SendWebhooks(hookURL, nil, "")
	const customers = 8
	var wg sync.WaitGroup
	for i := range customers {
		id := fmt.Sprintf("wh_conc_%d", i)
		createCustomer(t, srv, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = emu.AttachPaymentMethod(id)
			_ = emu.RevokePaymentMethods(id)
		}()
	}
	wg.Wait()
	waitWebhooks(t, emu)
	got := s.all()
	if len(got) != 2*customers {
		t.Fatalf("%d deliveries, want %d", len(got), 2*customers)
	}
	// Each customer's vaulting arrives before its revocation: one queue, in order.
	seen := map[string]string{}
	for _, r := range got {
		n, _, pm := check(t, r)
		if n.Kind == braintreeemu.KindRevoked && seen[pm.CustomerID] != braintreeemu.KindCustomerDataUpdated {
			t.Errorf("customer %s: revocation before vaulting", pm.CustomerID)
		}
		seen[pm.CustomerID] = n.Kind
	}
	if len(seen) != customers {
		t.Errorf("notifications for %d customers, want %d", len(seen), customers)
	}
}
