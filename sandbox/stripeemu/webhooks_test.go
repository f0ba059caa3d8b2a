package stripeemu_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/paysync/paysync/sandbox/stripeemu"
)

const hookSecret = "whsec_emulatorTestSecret"

// received is one webhook POST as the endpoint saw it.
type received struct {
	Body      []byte
	Signature string
	Header    http.Header
}

// endpoint is a webhook receiver that records every delivery and answers
// with the statuses in answers, then 200.
type endpoint struct {
	mu      sync.Mutex
	got     []received
	answers []int
}

func (en *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	en.mu.Lock()
	en.got = append(en.got, received{Body: body, Signature: r.Header.Get("Stripe-Signature"), Header: r.Header.Clone()})
	status := http.StatusOK
	if len(en.answers) > 0 {
		status, en.answers = en.answers[0], en.answers[1:]
	}
	en.mu.Unlock()
	w.WriteHeader(status)
}

func (en *endpoint) deliveries() []received {
	en.mu.Lock()
	defer en.mu.Unlock()
	return append([]received(nil), en.got...)
}

// withWebhooks starts an emulator whose webhooks go to a recording endpoint.
func withWebhooks(t *testing.T, answers ...int) (*stripeemu.Emulator, *client, *endpoint) {
	t.Helper()
	emu, c := start(t)
	en := &endpoint{answers: answers}
	srv := httptest.NewServer(en)
	t.Cleanup(srv.Close)
	emu.SendWebhooks(srv.URL, nil, hookSecret)
	return emu, c, en
}

func wait(t *testing.T, emu *stripeemu.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil {
		t.Fatalf("WaitWebhooks: %v", err)
	}
}

// events verifies every delivery with stripe-go's own webhook code, which
// also insists on the API version stripe-go v76 speaks, and decodes it
// into stripe-go's Event.
func events(t *testing.T, en *endpoint) []stripego.Event {
	t.Helper()
	var out []stripego.Event
	for _, d := range en.deliveries() {
		ev, err := webhook.ConstructEvent(d.Body, d.Signature, hookSecret)
		if err != nil {
			t.Fatalf("stripe-go refused the delivery: %v\nheader %s\n%s", err, d.Signature, d.Body)
		}
		if ct := d.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		out = append(out, ev)
	}
	return out
}

func types(evs []stripego.Event) string {
	var s []string
	for _, ev := range evs {
		s = append(s, string(ev.Type))
	}
	return strings.Join(s, ",")
}

func newCustomer(t *testing.T, c *client) string {
	t.Helper()
	status, _, body := c.do(http.MethodPost, "/v1/customers", url.Values{"email": {"hooks@example.com"}})
	if status != http.StatusOK {
		t.Fatalf("create customer: %d %v", status, body)
	}
	return body["id"].(string)
}

func TestWebhookCheckoutCompletion(t *testing.T) {
	t.Parallel()
	emu, c, en := withWebhooks(t)
	id := newCustomer(t, c)
	status, _, sess := c.do(http.MethodPost, "/v1/checkout/sessions", url.Values{
		"mode": {"setup"}, "customer": {id}, "payment_method_types[0]": {"card"}, "success_url": {"https://app.test/done?a=1&b=2"},
	})
	if status != http.StatusOK {
		t.Fatalf("create session: %d %v", status, sess)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Post(sess["url"].(string), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wait(t, emu)

	evs := events(t, en)
	if got := types(evs); got != "payment_method.attached,customer.updated,setup_intent.succeeded,checkout.session.completed" {
		t.Fatalf("events = %s", got)
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		if !strings.HasPrefix(ev.ID, "evt_") || seen[ev.ID] {
			t.Errorf("event id %q is not a fresh evt_ id", ev.ID)
		}
		seen[ev.ID] = true
		if ev.Livemode || ev.APIVersion != "2023-10-16" || ev.Created == 0 || ev.PendingWebhooks != 1 {
			t.Errorf("%s envelope: %+v", ev.Type, ev)
		}
		// The end customer acted, not an API request.
		if ev.Request == nil || ev.Request.ID != "" {
			t.Errorf("%s request = %+v, want nulls", ev.Type, ev.Request)
		}
	}

	var pm stripego.PaymentMethod
	if err := json.Unmarshal(evs[0].Data.Raw, &pm); err != nil || pm.Customer == nil || pm.Customer.ID != id || !strings.HasPrefix(pm.ID, "pm_") {
		t.Errorf("payment_method.attached object: %+v, %v", pm, err)
	}
	var cus stripego.Customer
	if err := json.Unmarshal(evs[1].Data.Raw, &cus); err != nil || cus.ID != id || cus.InvoiceSettings.DefaultPaymentMethod.ID != pm.ID {
		t.Errorf("customer.updated object: %+v, %v", cus, err)
	}
	prev := evs[1].Data.PreviousAttributes["invoice_settings"].(map[string]any)
	if v, ok := prev["default_payment_method"]; !ok || v != nil || len(evs[1].Data.PreviousAttributes) != 1 {
		t.Errorf("customer.updated previous_attributes = %v", evs[1].Data.PreviousAttributes)
	}
	var si stripego.SetupIntent
	if err := json.Unmarshal(evs[2].Data.Raw, &si); err != nil || si.ID != sess["setup_intent"] || si.Customer.ID != id ||
		si.PaymentMethod.ID != pm.ID || si.Status != stripego.SetupIntentStatusSucceeded {
		t.Errorf("setup_intent.succeeded object: %+v, %v", si, err)
	}
	var cs stripego.CheckoutSession
	if err := json.Unmarshal(evs[3].Data.Raw, &cs); err != nil || cs.ID != sess["id"] || cs.Customer.ID != id ||
		cs.Status != stripego.CheckoutSessionStatusComplete || cs.Mode != stripego.CheckoutSessionModeSetup {
		t.Errorf("checkout.session.completed object: %+v, %v", cs, err)
	}
	// Stripe does not HTML-escape its JSON.
	if !strings.Contains(string(en.deliveries()[3].Body), `"success_url": "https://app.test/done?a=1&b=2"`) {
		t.Errorf("session body:\n%s", en.deliveries()[3].Body)
	}
}

func TestWebhookSandboxAttachDetach(t *testing.T) {
	t.Parallel()
	emu, c, en := withWebhooks(t)
	id := newCustomer(t, c)

	status, hdr, pm := c.do(http.MethodPost, "/_sandbox/customers/"+id+"/payment_methods", nil)
	if status != http.StatusOK {
		t.Fatalf("attach: %d", status)
	}
	attachReq := hdr.Get("Request-Id")
	status, hdr, _ = c.do(http.MethodDelete, "/_sandbox/customers/"+id+"/payment_methods", nil, "Idempotency-Key", "detach-1")
	if status != http.StatusOK {
		t.Fatalf("detach: %d", status)
	}
	detachReq := hdr.Get("Request-Id")
	wait(t, emu)

	evs := events(t, en)
	if got := types(evs); got != "payment_method.attached,customer.updated,payment_method.detached,customer.updated" {
		t.Fatalf("events = %s", got)
	}
	if !strings.HasPrefix(attachReq, "req_") || evs[0].Request.ID != attachReq || evs[0].Request.IdempotencyKey != "" {
		t.Errorf("attach event request = %+v, want id %q", evs[0].Request, attachReq)
	}
	// Stripe's detached event: customer null on the object, the former
	// customer in previous_attributes.
	det := evs[2]
	if det.Data.Object["id"] != pm["id"] || det.Data.Object["customer"] != nil {
		t.Errorf("detached object = %v", det.Data.Object)
	}
	if v, ok := det.Data.Object["customer"]; !ok || v != nil {
		t.Error("detached object must carry customer: null")
	}
	if det.Data.PreviousAttributes["customer"] != id {
		t.Errorf("detached previous_attributes = %v", det.Data.PreviousAttributes)
	}
	if det.Request.ID != detachReq || det.Request.IdempotencyKey != "detach-1" {
		t.Errorf("detach event request = %+v", det.Request)
	}
	prev := evs[3].Data.PreviousAttributes["invoice_settings"].(map[string]any)
	if prev["default_payment_method"] != pm["id"] {
		t.Errorf("customer.updated after detach: previous %v", evs[3].Data.PreviousAttributes)
	}
	if is := evs[3].Data.Object["invoice_settings"].(map[string]any); is["default_payment_method"] != nil {
		t.Errorf("customer.updated after detach: object %v", evs[3].Data.Object)
	}
}

func TestWebhookHelpersUpdateDelete(t *testing.T) {
	t.Parallel()
	emu, c, en := withWebhooks(t)
	id := newCustomer(t, c)
	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	if err := emu.DetachPaymentMethods(id); err != nil {
		t.Fatal(err)
	}
	// A replayed idempotent update changes nothing and sends nothing more.
	for range 2 {
		status, _, body := c.do(http.MethodPost, "/v1/customers/"+id, url.Values{"metadata[plan]": {"gold"}, "name": {"Renamed"}}, "Idempotency-Key", "upd-1")
		if status != http.StatusOK {
			t.Fatalf("update: %d %v", status, body)
		}
	}
	// An update that changes nothing sends nothing.
	c.do(http.MethodPost, "/v1/customers/"+id, url.Values{"name": {"Renamed"}})
	status, hdr, _ := c.do(http.MethodDelete, "/v1/customers/"+id, nil)
	if status != http.StatusOK {
		t.Fatalf("delete: %d", status)
	}
	wait(t, emu)

	evs := events(t, en)
	if got := types(evs); got != "payment_method.attached,customer.updated,payment_method.detached,customer.updated,customer.updated,customer.deleted" {
		t.Fatalf("events = %s", got)
	}
	if evs[0].Request.ID != "" {
		t.Errorf("helper event request = %+v, want nulls", evs[0].Request)
	}
	upd := evs[4]
	if upd.Data.PreviousAttributes["name"] != nil || len(upd.Data.PreviousAttributes) != 2 {
		t.Errorf("update previous_attributes = %v", upd.Data.PreviousAttributes)
	}
	if md := upd.Data.PreviousAttributes["metadata"].(map[string]any); len(md) != 1 || md["plan"] != nil {
		t.Errorf("update previous metadata = %v", md)
	}
	if upd.Request.IdempotencyKey != "upd-1" || !strings.HasPrefix(upd.Request.ID, "req_") {
		t.Errorf("update request = %+v", upd.Request)
	}
	del := evs[5]
	if del.Data.Object["id"] != id || del.Data.Object["object"] != "customer" || del.Data.Object["email"] != "hooks@example.com" {
		t.Errorf("customer.deleted object = %v", del.Data.Object)
	}
	if del.Request.ID != hdr.Get("Request-Id") {
		t.Errorf("customer.deleted request = %+v, want %s", del.Request, hdr.Get("Request-Id"))
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()

	t.Run("until the endpoint accepts", func(t *testing.T) {
		t.Parallel()
		emu, c, en := withWebhooks(t, 500, 503)
		id := newCustomer(t, c)
		if _, err := emu.AttachPaymentMethod(id); err != nil {
			t.Fatal(err)
		}
		wait(t, emu)
		got := en.deliveries()
		// Three attempts of payment_method.attached, then customer.updated.
		if len(got) != 4 {
			t.Fatalf("%d deliveries, want 4", len(got))
		}
		var ids []string
		for _, d := range got {
			var ev struct{ ID, Type string }
			if err := json.Unmarshal(d.Body, &ev); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.Type+" "+ev.ID)
			if _, err := webhook.ConstructEvent(d.Body, d.Signature, hookSecret); err != nil {
				t.Errorf("attempt not signed: %v", err)
			}
		}
		if ids[0] != ids[1] || ids[1] != ids[2] || ids[2] == ids[3] || !strings.HasPrefix(ids[3], "customer.updated ") {
			t.Errorf("deliveries = %v: a retry must carry the same event", ids)
		}
	})

	t.Run("a bounded number of times", func(t *testing.T) {
		t.Parallel()
		emu, c, en := withWebhooks(t, 500, 500, 500, 500, 500, 500, 500, 500)
		id := newCustomer(t, c)
		if err := emu.DetachPaymentMethods(id); err != nil {
			t.Fatal(err)
		}
		if _, err := emu.AttachPaymentMethod(id); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		wait(t, emu)
		// Two events (attached, updated), four attempts each.
		if n := len(en.deliveries()); n != 8 {
			t.Errorf("%d deliveries, want 8", n)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("giving up took %s", d)
		}
	})

	t.Run("an unreachable endpoint", func(t *testing.T) {
		t.Parallel()
		emu, c := start(t)
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		emu.SendWebhooks(dead.URL, nil, hookSecret)
		id := newCustomer(t, c)
		if _, err := emu.AttachPaymentMethod(id); err != nil {
			t.Fatal(err)
		}
		wait(t, emu)
		if err := emu.ResendLastWebhook(); err == nil {
			t.Error("ResendLastWebhook to a closed endpoint succeeded")
		}
	})
}

func TestResendLastWebhook(t *testing.T) {
	t.Parallel()
	emu, c, en := withWebhooks(t)
	if err := emu.ResendLastWebhook(); err == nil {
		t.Error("ResendLastWebhook before any delivery succeeded")
	}
	id := newCustomer(t, c)
	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	if err := emu.ResendLastWebhook(); err != nil {
		t.Fatal(err)
	}
	got := en.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3", len(got))
	}
	if string(got[2].Body) != string(got[1].Body) || got[2].Signature != got[1].Signature {
		t.Error("the resent delivery differs from the last one")
	}
	en.mu.Lock()
	en.answers = []int{http.StatusBadRequest}
	en.mu.Unlock()
	if err := emu.ResendLastWebhook(); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("ResendLastWebhook refused by the endpoint: %v", err)
	}
}

func TestNoWebhooksUnlessConfigured(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	en := &endpoint{}
	srv := httptest.NewServer(en)
	t.Cleanup(srv.Close)
	id := newCustomer(t, c)
	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	if n := len(en.deliveries()); n != 0 {
		t.Errorf("%d deliveries without SendWebhooks", n)
	}
	// Configured later, only later changes are sent.
	emu.SendWebhooks(srv.URL, srv.Client(), hookSecret)
	if err := emu.DetachPaymentMethods(id); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	if got := types(events(t, en)); got != "payment_method.detached,customer.updated" {
		t.Errorf("events = %s", got)
	}
}

// TestSignatureHeader pins the scheme against stripe-go's own signer.
func TestSignatureHeader(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","object":"event"}`)
	at := time.Unix(1700000000, 0)
	want := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: hookSecret, Timestamp: at})
	if got := stripeemu.SignatureHeader(body, hookSecret, at); got != want.Header {
		t.Errorf("SignatureHeader = %q, stripe-go signs %q", got, want.Header)
	}
}
