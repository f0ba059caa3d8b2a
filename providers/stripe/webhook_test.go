package stripe_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/providers/stripe"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

const whSecret = "whsec_adapterTestSecret"

// delivery is one webhook POST as paysync's endpoint would get it.
type delivery struct {
	Header http.Header
	Body   []byte
}

// inbox records the emulator's webhook deliveries.
type inbox struct {
	mu  sync.Mutex
	got []delivery
}

func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	in.mu.Lock()
	in.got = append(in.got, delivery{Header: r.Header.Clone(), Body: body})
	in.mu.Unlock()
	_, _ = io.WriteString(w, `{"received":true}`)
}

// take returns the deliveries since the last take.
func (in *inbox) take() []delivery {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := in.got
	in.got = nil
	return out
}

// hooked starts an emulator sending webhooks to a recording endpoint, and
// an adapter that has the endpoint's secret.
func hooked(t *testing.T) (*stripeemu.Emulator, *httptest.Server, *stripe.Provider, *inbox) {
	t.Helper()
	emu := stripeemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	in := &inbox{}
	hook := httptest.NewServer(in)
	t.Cleanup(hook.Close)
	emu.SendWebhooks(hook.URL, nil, whSecret)
	p, err := stripe.New(paysync.Connection{
		Provider: paysync.Stripe, Code: "test", BaseURL: srv.URL,
		Credentials: map[string]string{"secret_key": "sk_test_hooks", "webhook_secret": whSecret},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return emu, srv, p, in
}

// completeCheckout submits the hosted setup page, as the end customer
// does, without following the redirect to the caller's page.
func completeCheckout(u string) (*http.Response, error) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post(u, "application/x-www-form-urlencoded", nil)
	if err == nil && resp.StatusCode != http.StatusSeeOther {
		resp.Body.Close()
		return nil, fmt.Errorf("checkout completion answered %d", resp.StatusCode)
	}
	return resp, err
}

func waitHooks(t *testing.T, emu *stripeemu.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

// verifyAll verifies each delivery as paysync's route would, now.
func verifyAll(t *testing.T, p *stripe.Provider, ds []delivery) []paysync.WebhookEvent {
	t.Helper()
	var out []paysync.WebhookEvent
	for _, d := range ds {
		evs, err := p.VerifyWebhook(d.Header, d.Body, time.Now())
		if err != nil {
			t.Fatalf("VerifyWebhook refused an emulator delivery: %v\n%s", err, d.Body)
		}
		if len(evs) != 1 {
			t.Fatalf("%d events in one delivery", len(evs))
		}
		out = append(out, evs[0])
	}
	return out
}

func eventTypes(evs []paysync.WebhookEvent) string {
	var s []string
	for _, ev := range evs {
		s = append(s, ev.Type)
	}
	return strings.Join(s, ",")
}

func hasPaymentMethod(t *testing.T, p *stripe.Provider, id string) bool {
	t.Helper()
	st, err := p.CustomerStatus(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st.HasPaymentMethod
}

// TestWebhookSetupAndDetach follows what paysync does: the end customer
// completes the setup page, the events name the customer whose state is
// re-read; a detach later names the same customer, whose state is false.
func TestWebhookSetupAndDetach(t *testing.T) {
	t.Parallel()
	emu, _, p, in := hooked(t)
	c, link := fullCustomer()
	id := create(t, p, c, link)
	u, err := p.SetupLink(context.Background(), c, id, "https://app.example.test/done", "setup-hooks")
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Second)
	resp, err := completeCheckout(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitHooks(t, emu)

	evs := verifyAll(t, p, in.take())
	if got := eventTypes(evs); got != "payment_method.attached,customer.updated,setup_intent.succeeded,checkout.session.completed" {
		t.Fatalf("events = %s", got)
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		if ev.ProviderCustomerID != id {
			t.Errorf("%s: ProviderCustomerID = %q, want %q", ev.Type, ev.ProviderCustomerID, id)
		}
		if !strings.HasPrefix(ev.ID, "evt_") || ids[ev.ID] {
			t.Errorf("%s: id %q is not a unique evt_ id", ev.Type, ev.ID)
		}
		ids[ev.ID] = true
		if ev.OccurredAt.Before(started.Truncate(time.Second)) || ev.OccurredAt.After(time.Now()) || ev.OccurredAt.Location() != time.UTC {
			t.Errorf("%s: OccurredAt = %v", ev.Type, ev.OccurredAt)
		}
	}
	for i, prefix := range []string{"pm_", "cus_", "seti_", "cs_test_"} {
		if !strings.HasPrefix(evs[i].ResourceID, prefix) {
			t.Errorf("%s: ResourceID = %q, want %s...", evs[i].Type, evs[i].ResourceID, prefix)
		}
	}
	// What the refresh job then reads.
	if !hasPaymentMethod(t, p, id) {
		t.Error("HasPaymentMethod = false after the setup page")
	}

	if err := emu.DetachPaymentMethods(id); err != nil {
		t.Fatal(err)
	}
	waitHooks(t, emu)
	evs = verifyAll(t, p, in.take())
	if got := eventTypes(evs); got != "payment_method.detached,customer.updated" {
		t.Fatalf("events after detach = %s", got)
	}
	// Stripe's detached payment method has customer null: the customer
	// comes from previous_attributes.
	if evs[0].ProviderCustomerID != id || !strings.HasPrefix(evs[0].ResourceID, "pm_") {
		t.Errorf("payment_method.detached = %+v, want customer %s", evs[0], id)
	}
	if hasPaymentMethod(t, p, id) {
		t.Error("HasPaymentMethod = true after the detach")
	}
}

func TestWebhookDeletedCustomer(t *testing.T) {
	t.Parallel()
	emu, srv, p, in := hooked(t)
	c, link := fullCustomer()
	id := create(t, p, c, link)
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v1/customers/"+id, nil)
	req.Header.Set("Authorization", "Bearer sk_test_hooks")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitHooks(t, emu)
	evs := verifyAll(t, p, in.take())
	if eventTypes(evs) != "customer.deleted" || evs[0].ProviderCustomerID != id || evs[0].ResourceID != id {
		t.Fatalf("events = %+v", evs)
	}
	if _, err := p.CustomerStatus(context.Background(), id); providerError(t, err).Code != paysync.CodeCustomerNotFound {
		t.Errorf("status after customer.deleted: %v", err)
	}
}

// TestWebhookReplay: a replayed delivery verifies to the same event id,
// which paysync's inbox deduplicates on, until it is stale.
func TestWebhookReplay(t *testing.T) {
	t.Parallel()
	emu, _, p, in := hooked(t)
	c, link := fullCustomer()
	id := create(t, p, c, link)
	if _, err := emu.AttachPaymentMethod(id); err != nil {
		t.Fatal(err)
	}
	waitHooks(t, emu)
	if err := emu.ResendLastWebhook(); err != nil {
		t.Fatal(err)
	}
	ds := in.take()
	evs := verifyAll(t, p, ds)
	if len(evs) != 3 || evs[2] != evs[1] {
		t.Fatalf("replayed events = %+v", evs)
	}
	_, err := p.VerifyWebhook(ds[2].Header, ds[2].Body, time.Now().Add(6*time.Minute))
	if !errors.Is(err, paysync.ErrWebhookSignature) || !strings.Contains(err.Error(), "older than") {
		t.Errorf("replay 6 minutes later: %v, want a stale signature", err)
	}
}

// signed returns a Stripe-Signature header made by stripe-go's own test
// signer, so the Go side is checked against Stripe's Go SDK too.
func signed(body []byte, secret string, at time.Time) http.Header {
	h := http.Header{}
	h.Set("Stripe-Signature", webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header)
	return h
}

func eventBody(typ, object string) []byte {
	return []byte(`{"id":"evt_1TestEvent","object":"event","api_version":"2023-10-16","created":1700000000,` +
		`"data":{"object":` + object + `},"livemode":false,"pending_webhooks":1,` +
		`"request":{"id":null,"idempotency_key":null},"type":"` + typ + `"}`)
}

func TestVerifyWebhookRejects(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t, map[string]string{"webhook_secret": whSecret}, false)
	body := eventBody("payment_method.attached", `{"id":"pm_1","object":"payment_method","customer":"cus_1"}`)
	now := time.Unix(1700000100, 0)
	good := signed(body, whSecret, now.Add(-time.Minute))
	if _, err := p.VerifyWebhook(good, body, now); err != nil {
		t.Fatalf("the genuine delivery is refused: %v", err)
	}

	hdr := func(v string) http.Header {
		h := http.Header{}
		if v != "" {
			h.Set("Stripe-Signature", v)
		}
		return h
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	goodSig := strings.SplitN(good.Get("Stripe-Signature"), "v1=", 2)[1]
	cases := []struct {
		name   string
		header http.Header
		body   []byte
		now    time.Time
	}{
		{"forged with another secret", signed(body, "whsec_attacker", now), body, now},
		{"body altered after signing", good, append([]byte(nil), strings.Replace(string(body), "cus_1", "cus_2", 1)...), now},
		{"a byte appended", good, append(append([]byte(nil), body...), ' '), now},
		{"missing header", hdr(""), body, now},
		{"stale", good, body, now.Add(5 * time.Minute)},
		{"far in the future", signed(body, whSecret, now.Add(10*time.Minute)), body, now},
		{"timestamp moved", hdr("t=" + ts + ",v1=" + goodSig), body, now},
		{"no timestamp", hdr("v1=" + goodSig), body, now},
		{"bad timestamp", hdr("t=abc,v1=" + goodSig), body, now},
		{"no v1", hdr("t=" + ts + ",v0=" + goodSig), body, now},
		{"not hex", hdr("t=" + ts + ",v1=zz"), body, now},
		{"garbage", hdr("garbage"), body, now},
	}
	for _, tc := range cases {
		evs, err := p.VerifyWebhook(tc.header, tc.body, tc.now)
		if !errors.Is(err, paysync.ErrWebhookSignature) || evs != nil {
			t.Errorf("%s: %v, %v; want ErrWebhookSignature", tc.name, evs, err)
			continue
		}
		if status, _ := p.WebhookAnswer(err); status != http.StatusBadRequest {
			t.Errorf("%s: answer %d, want 400", tc.name, status)
		}
		if strings.Contains(err.Error(), whSecret) {
			t.Errorf("%s: the error shows the secret", tc.name)
		}
	}

	// Exactly at the tolerance is still accepted, as by Stripe's SDKs.
	if _, err := p.VerifyWebhook(good, body, now.Add(4*time.Minute)); err != nil {
		t.Errorf("5 minutes old: %v", err)
	}
	// While a secret is rolled Stripe sends several v1 entries, and a v0.
	rolled := hdr("t=" + strconv.FormatInt(now.Unix()-60, 10) + ",v1=" + strings.Repeat("ab", 32) + ",v1=" + goodSig + ",v0=" + strings.Repeat("cd", 32))
	if _, err := p.VerifyWebhook(rolled, body, now); err != nil {
		t.Errorf("several v1 entries, one right: %v", err)
	}
}

func webhookProvider(t *testing.T, creds map[string]string, sandbox bool) *stripe.Provider {
	t.Helper()
	creds["secret_key"] = "sk_test_x"
	p, err := stripe.New(paysync.Connection{Provider: paysync.Stripe, Code: "test", Credentials: creds, Sandbox: sandbox}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWebhookSecretChoice(t *testing.T) {
	t.Parallel()
	body := eventBody("customer.updated", `{"id":"cus_1","object":"customer"}`)
	now := time.Now()
	sandboxSigned := signed(body, stripeemu.SandboxWebhookSecret, now)

	// A sandbox connection verifies with the secret the wiring gives it,
	// the emulator's; another secret refuses what the emulator signed.
	if _, err := webhookProvider(t, map[string]string{"webhook_secret": stripeemu.SandboxWebhookSecret}, true).VerifyWebhook(sandboxSigned, body, now); err != nil {
		t.Errorf("sandbox secret: %v", err)
	}
	if _, err := webhookProvider(t, map[string]string{"webhook_secret": whSecret}, true).VerifyWebhook(sandboxSigned, body, now); !errors.Is(err, paysync.ErrWebhookSignature) {
		t.Errorf("a connection with its own secret accepted the sandbox's: %v", err)
	}
	// A sandbox connection without a secret gets no default: the adapter knows no sandbox.
	if _, err := webhookProvider(t, map[string]string{}, true).VerifyWebhook(sandboxSigned, body, now); !errors.Is(err, paysync.ErrWebhookSignature) {
		t.Errorf("a sandbox connection without a secret accepted a webhook: %v", err)
	}
	// A real connection without a secret can verify nothing.
	_, err := webhookProvider(t, map[string]string{}, false).VerifyWebhook(sandboxSigned, body, now)
	if !errors.Is(err, paysync.ErrWebhookSignature) || !strings.Contains(err.Error(), "webhook_secret") {
		t.Errorf("no secret: %v", err)
	}
}

func TestWebhookEventParsing(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t, map[string]string{"webhook_secret": whSecret}, false)
	now := time.Unix(1700000100, 0)
	cases := []struct {
		typ, object, previous string
		customer, resource    string
	}{
		{"payment_method.attached", `{"id":"pm_1","object":"payment_method","customer":"cus_A"}`, "", "cus_A", "pm_1"},
		{"payment_method.detached", `{"id":"pm_1","object":"payment_method","customer":null}`, `{"customer":"cus_A"}`, "cus_A", "pm_1"},
		{"setup_intent.succeeded", `{"id":"seti_1","object":"setup_intent","customer":{"id":"cus_B","object":"customer"}}`, "", "cus_B", "seti_1"},
		{"checkout.session.completed", `{"id":"cs_test_1","object":"checkout.session","customer":"cus_C"}`, "", "cus_C", "cs_test_1"},
		{"customer.updated", `{"id":"cus_D","object":"customer","invoice_settings":{"default_payment_method":null}}`, `{"invoice_settings":{"default_payment_method":"pm_1"}}`, "cus_D", "cus_D"},
		{"customer.deleted", `{"id":"cus_E","object":"customer"}`, "", "cus_E", "cus_E"},
		// Not about a customer: returned, to be acknowledged and ignored.
		{"product.created", `{"id":"prod_1","object":"product"}`, "", "", "prod_1"},
		{"setup_intent.created", `{"id":"seti_2","object":"setup_intent","customer":null}`, "", "", "seti_2"},
		// Only a customer id counts as one.
		{"x.weird", `{"id":"x_1","object":"x","customer":"acct_1"}`, `{"customer":42}`, "", "x_1"},
		{"x.weird", `{"id":"x_1","object":"x","customer":{"id":"acct_1","object":"account"}}`, "", "", "x_1"},
	}
	for _, tc := range cases {
		object := tc.object
		if tc.previous != "" {
			object += `,"previous_attributes":` + tc.previous
		}
		body := eventBody(tc.typ, object)
		evs, err := p.VerifyWebhook(signed(body, whSecret, now), body, now)
		if err != nil {
			t.Errorf("%s: %v", tc.typ, err)
			continue
		}
		want := paysync.WebhookEvent{ID: "evt_1TestEvent", Type: tc.typ, ProviderCustomerID: tc.customer, ResourceID: tc.resource, OccurredAt: time.Unix(1700000000, 0).UTC()}
		if len(evs) != 1 || evs[0] != want {
			t.Errorf("%s: events %+v, want %+v", tc.typ, evs, want)
		}
	}

	// A signed body that is no Stripe event is refused, not as a signature
	// failure.
	for _, body := range []string{`not json`, `{"object":"event","type":"x"}`, `{"id":"evt_1","object":"list","type":"x","data":{"object":{}}}`, `{"id":"evt_1","type":"x","data":{"object":"s"}}`} {
		_, err := p.VerifyWebhook(signed([]byte(body), whSecret, now), []byte(body), now)
		if err == nil || errors.Is(err, paysync.ErrWebhookSignature) {
			t.Errorf("%s: %v, want a payload error", body, err)
			continue
		}
		if status, _ := p.WebhookAnswer(err); status != http.StatusBadRequest {
			t.Errorf("%s: answer %d, want 400", body, status)
		}
	}
}

func TestWebhookAnswer(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t, map[string]string{}, false)
	if status, body := p.WebhookAnswer(nil); status != http.StatusOK || body != `{"received":true}` {
		t.Errorf("accepted: %d %s", status, body)
	}
	sigErr := fmt.Errorf("route: %w", paysync.ErrWebhookSignature)
	if status, body := p.WebhookAnswer(sigErr); status != http.StatusBadRequest || !json.Valid([]byte(body)) || !strings.Contains(body, "signature") {
		t.Errorf("bad signature: %d %s", status, body)
	}
	// paysync failing to store a genuine delivery: Stripe must retry it.
	if status, _ := p.WebhookAnswer(errors.New("inbox: connection refused")); status != http.StatusInternalServerError {
		t.Errorf("internal failure: %d, want 500", status)
	}
}

// TestWebhookNodeSDK checks the signature scheme with Stripe's official
// Node SDK in both directions: stripe.webhooks.constructEvent accepts the
// emulator's deliveries (and refuses them tampered with, with another
// secret, or late), and VerifyWebhook accepts what
// stripe.webhooks.generateTestHeaderString signs.
func TestWebhookNodeSDK(t *testing.T) {
	t.Parallel()
	emu, srv, p, in := hooked(t)
	c, link := fullCustomer()
	id := create(t, p, c, link)
	u, err := p.SetupLink(context.Background(), c, id, "https://app.example.test/done", "setup-sdk")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := completeCheckout(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := emu.DetachPaymentMethods(id); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v1/customers/"+id, nil)
	req.Header.Set("Authorization", "Bearer sk_test_hooks")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitHooks(t, emu)
	ds := in.take()
	ours := verifyAll(t, p, ds)

	type wire struct {
		Body      string `json:"body"`
		Signature string `json:"signature"`
	}
	var sent []wire
	for _, d := range ds {
		sent = append(sent, wire{Body: string(d.Body), Signature: d.Header.Get("Stripe-Signature")})
	}
	deliveries, _ := json.Marshal(sent)
	payload := string(eventBody("payment_method.attached", `{"id":"pm_sdk","object":"payment_method","customer":"cus_SDK"}`))
	signedAt := time.Now().Add(-30 * time.Second).Unix()

	out := testenv.Node(t, "stripe-webhook.js",
		"STRIPE_WEBHOOK_SECRET="+whSecret,
		"STRIPE_WEBHOOK_DELIVERIES="+string(deliveries),
		"STRIPE_SIGN_PAYLOAD="+payload,
		"STRIPE_SIGN_TIMESTAMP="+strconv.FormatInt(signedAt, 10))
	type failure struct{ Type, Message string }
	var got struct {
		Verified []struct {
			ID               string   `json:"id"`
			Object           string   `json:"object"`
			Type             string   `json:"type"`
			APIVersion       string   `json:"api_version"`
			Livemode         bool     `json:"livemode"`
			HasRequest       bool     `json:"has_request"`
			Customer         *string  `json:"customer"`
			PreviousCustomer *string  `json:"previous_customer"`
			DataObjectID     string   `json:"data_object_id"`
			Tampered         *failure `json:"tampered"`
			OtherSecret      *failure `json:"other_secret"`
			Late             *failure `json:"late"`
		} `json:"verified"`
		Generated string `json:"generated"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("parse SDK output %q: %v", out, err)
	}

	want := "payment_method.attached,customer.updated,setup_intent.succeeded,checkout.session.completed," +
		"payment_method.detached,customer.updated,customer.deleted"
	if eventTypes(ours) != want || len(got.Verified) != len(ours) {
		t.Fatalf("events %s; the SDK verified %d of %d", eventTypes(ours), len(got.Verified), len(ours))
	}
	for i, v := range got.Verified {
		ev := ours[i]
		if v.ID != ev.ID || v.Type != ev.Type || v.Object != "event" || v.APIVersion != "2023-10-16" || v.Livemode || !v.HasRequest || v.DataObjectID != ev.ResourceID {
			t.Errorf("SDK event %d = %+v, paysync read %+v", i, v, ev)
		}
		// The SDK sees the customer where the adapter found it.
		sdkCustomer := ""
		if v.Customer != nil {
			sdkCustomer = *v.Customer
		} else if v.PreviousCustomer != nil {
			sdkCustomer = *v.PreviousCustomer
		}
		if sdkCustomer != id || ev.ProviderCustomerID != id {
			t.Errorf("%s: SDK customer %q, adapter %q, want %q", v.Type, sdkCustomer, ev.ProviderCustomerID, id)
		}
		for name, f := range map[string]*failure{"tampered": v.Tampered, "other secret": v.OtherSecret, "late": v.Late} {
			if f == nil || f.Type != "StripeSignatureVerificationError" {
				t.Errorf("%s, %s: the SDK did not refuse it: %+v", v.Type, name, f)
			}
		}
	}
	if v := got.Verified[4]; v.Type != "payment_method.detached" || v.Customer != nil || v.PreviousCustomer == nil {
		t.Errorf("detached, as the SDK parsed it: customer %v previous %v", v.Customer, v.PreviousCustomer)
	}

	// The other direction: the SDK signs, the adapter verifies.
	if !strings.HasPrefix(got.Generated, "t="+strconv.FormatInt(signedAt, 10)+",v1=") {
		t.Fatalf("generated header = %q", got.Generated)
	}
	h := http.Header{}
	h.Set("Stripe-Signature", got.Generated)
	evs, err := p.VerifyWebhook(h, []byte(payload), time.Now())
	if err != nil || len(evs) != 1 || evs[0].ProviderCustomerID != "cus_SDK" || evs[0].ResourceID != "pm_sdk" || evs[0].ID != "evt_1TestEvent" {
		t.Fatalf("VerifyWebhook of the SDK-signed payload: %+v, %v", evs, err)
	}
	if _, err := p.VerifyWebhook(h, []byte(strings.Replace(payload, "cus_SDK", "cus_XXX", 1)), time.Now()); !errors.Is(err, paysync.ErrWebhookSignature) {
		t.Errorf("altered SDK-signed payload: %v", err)
	}
	if _, err := p.VerifyWebhook(h, []byte(payload), time.Unix(signedAt, 0).Add(6*time.Minute)); !errors.Is(err, paysync.ErrWebhookSignature) {
		t.Errorf("SDK-signed payload 6 minutes later: %v", err)
	}
}
