package gocardlessemu_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync/sandbox/gocardlessemu"
)

const whSecret = "whsec_emulator_test"

// received is one webhook request as the receiver saw it.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that records deliveries and answers the
// statuses queued in answers (then 200).
type receiver struct {
	mu      sync.Mutex
	got     []received
	answers []int
	url     string
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		status := http.StatusOK
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/webhooks/gocardless/org/gc"
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// wireEvent is an event as GoCardless sends it.
type wireEvent struct {
	ID           string            `json:"id"`
	CreatedAt    string            `json:"created_at"`
	ResourceType string            `json:"resource_type"`
	Action       string            `json:"action"`
	Links        map[string]string `json:"links"`
	Details      map[string]string `json:"details"`
	Metadata     map[string]string `json:"metadata"`
}

// events checks a delivery's signature and headers and decodes its events.
func events(t *testing.T, r received) []wireEvent {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(whSecret))
	mac.Write(r.body)
	if got, want := r.header.Get("Webhook-Signature"), hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("Webhook-Signature %q, want the hex HMAC-SHA256 of the body %q", got, want)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var body struct {
		Events []wireEvent `json:"events"`
		Meta   struct {
			WebhookID string `json:"webhook_id"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("webhook body: %v\n%s", err, r.body)
	}
	if !strings.HasPrefix(body.Meta.WebhookID, "WB") {
		t.Errorf("meta.webhook_id %q", body.Meta.WebhookID)
	}
	for _, e := range body.Events {
		if !strings.HasPrefix(e.ID, "EV") || e.Metadata == nil || e.Details["cause"] == "" || e.Details["origin"] == "" || e.Details["description"] == "" {
			t.Errorf("event %+v", e)
		}
		if at, err := time.Parse(time.RFC3339Nano, e.CreatedAt); err != nil || time.Since(at) > time.Minute {
			t.Errorf("event created_at %q: %v", e.CreatedAt, err)
		}
		if _, ok := e.Links["customer"]; ok {
			t.Errorf("mandate event names the customer, GoCardless's do not: %v", e.Links)
		}
	}
	return body.Events
}

// actions lists "resource_type.action mandate" for each event.
func actions(evs []wireEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ResourceType+"."+e.Action+" "+e.Links["mandate"])
	}
	return out
}

func wait(t *testing.T, emu *gocardlessemu.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil {
		t.Fatalf("WaitWebhooks: %v", err)
	}
}

func TestWebhooksFollowMandates(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	rcv := newReceiver(t)
	a.emu.SendWebhooks(rcv.url, nil, whSecret)
	cu := object(t, a.call("POST", "/customers", `{"customers":{"company_name":"Acme","country_code":"GB"}}`, nil).body, "customers", "id").(string)

	// AttachPaymentMethod: created, submitted, active in one webhook.
	md, err := a.emu.AttachPaymentMethod(cu)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, a.emu)
	got := rcv.all()
	if len(got) != 1 {
		t.Fatalf("%d webhooks after AttachPaymentMethod, want 1", len(got))
	}
	evs := events(t, got[0])
	want := []string{"mandates.created " + md, "mandates.submitted " + md, "mandates.active " + md}
	if strings.Join(actions(evs), ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", actions(evs), want)
	}
	if evs[2].Details["cause"] != "mandate_activated" || evs[2].Details["origin"] != "gocardless" {
		t.Errorf("active event details %v", evs[2].Details)
	}

	// The sandbox endpoint, with a chosen status.
	r := a.call("POST", "/_sandbox/customers/"+cu+"/mandates", `{"status":"pending_submission"}`, nil)
	md2 := object(t, r.body, "mandates", "id").(string)
	wait(t, a.emu)
	if got = rcv.all(); len(got) != 2 {
		t.Fatalf("%d webhooks, want 2", len(got))
	}
	if a := actions(events(t, got[1])); len(a) != 1 || a[0] != "mandates.created "+md2 {
		t.Errorf("sandbox attach events %v", a)
	}

	// A payer completing a billing request flow.
	brq := object(t, a.call("POST", "/billing_requests", `{"billing_requests":{"mandate_request":{"scheme":"bacs"},"links":{"customer":"`+cu+`"}}}`, nil).body, "billing_requests", "id").(string)
	authURL := object(t, a.call("POST", "/billing_request_flows", `{"billing_request_flows":{"links":{"billing_request":"`+brq+`"}}}`, nil).body, "billing_request_flows", "authorisation_url").(string)
	resp, err := http.Post(authURL, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	md3 := object(t, a.call("GET", "/billing_requests/"+brq, "", nil).body, "billing_requests", "links", "mandate_request_mandate").(string)
	wait(t, a.emu)
	if got = rcv.all(); len(got) != 3 {
		t.Fatalf("%d webhooks, want 3", len(got))
	}
	flowEvs := events(t, got[2])
	if a := actions(flowEvs); len(a) != 1 || a[0] != "mandates.created "+md3 || flowEvs[0].Details["origin"] != "payer" {
		t.Errorf("flow completion events %v %v", a, flowEvs)
	}

	// Cancelling: one event per live mandate, in one webhook.
	if err := a.emu.CancelMandates(cu); err != nil {
		t.Fatal(err)
	}
	wait(t, a.emu)
	if got = rcv.all(); len(got) != 4 {
		t.Fatalf("%d webhooks, want 4", len(got))
	}
	cancelled := events(t, got[3])
	want = []string{"mandates.cancelled " + md, "mandates.cancelled " + md2, "mandates.cancelled " + md3}
	if strings.Join(actions(cancelled), ",") != strings.Join(want, ",") || cancelled[0].Details["origin"] != "bank" {
		t.Errorf("cancel events %v, want %v (%v)", actions(cancelled), want, cancelled[0].Details)
	}
	// Nothing left to cancel: no webhook.
	if err := a.emu.CancelMandates(cu); err != nil {
		t.Fatal(err)
	}

	// Removing a customer cancels its mandates at your request.
	md4, _ := a.emu.AttachPaymentMethod(cu)
	if r := a.call("DELETE", "/customers/"+cu, "", nil); r.status != 200 {
		t.Fatalf("remove customer: %d", r.status)
	}
	wait(t, a.emu)
	if got = rcv.all(); len(got) != 6 {
		t.Fatalf("%d webhooks, want 6 (none for the empty cancel)", len(got))
	}
	removed := events(t, got[5])
	if a := actions(removed); len(a) != 1 || a[0] != "mandates.cancelled "+md4 || removed[0].Details["origin"] != "api" {
		t.Errorf("customer removal events %v %v", a, removed)
	}

	// Event ids are unique.
	seen := map[string]bool{}
	for _, r := range got {
		for _, e := range events(t, r) {
			if seen[e.ID] {
				t.Errorf("event id %s sent twice", e.ID)
			}
			seen[e.ID] = true
		}
	}
	if ds := a.emu.WebhookDeliveries(); len(ds) != 6 || ds[0].Attempts != 1 || ds[0].Status != 200 || ds[0].Err != nil {
		t.Errorf("deliveries %d, first %+v", len(ds), ds[0])
	}
}

func TestWebhookRetriesAndResend(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if err := a.emu.ResendLastWebhook(); err == nil {
		t.Error("ResendLastWebhook with nothing sent succeeded")
	}
	// Two failures, then the receiver takes it.
	rcv := newReceiver(t, 500, 503)
	a.emu.SendWebhooks(rcv.url, nil, whSecret)
	cu := object(t, a.call("POST", "/customers", `{"customers":{"company_name":"Acme"}}`, nil).body, "customers", "id").(string)
	if _, err := a.emu.AttachPaymentMethod(cu); err != nil {
		t.Fatal(err)
	}
	wait(t, a.emu)
	got := rcv.all()
	if len(got) != 3 || !bytes.Equal(got[0].body, got[2].body) {
		t.Fatalf("%d attempts, want 3 of the same body", len(got))
	}
	ds := a.emu.WebhookDeliveries()
	if len(ds) != 1 || ds[0].Attempts != 3 || ds[0].Status != 200 || ds[0].Err != nil || !bytes.Equal(ds[0].Body, got[2].body) {
		t.Fatalf("delivery %+v", ds)
	}

	// A replay is byte for byte, signature included.
	if err := a.emu.ResendLastWebhook(); err != nil {
		t.Fatalf("ResendLastWebhook: %v", err)
	}
	got = rcv.all()
	if len(got) != 4 || !bytes.Equal(got[3].body, got[2].body) ||
		got[3].header.Get("Webhook-Signature") != got[2].header.Get("Webhook-Signature") {
		t.Fatalf("replay differs: %d requests", len(got))
	}

	// A receiver that keeps refusing: attempts are bounded, the outcome kept.
	refusing := newReceiver(t, 498, 498, 498, 498, 498, 498, 498, 498)
	a.emu.SendWebhooks(refusing.url, nil, "another-secret")
	if err := a.emu.CancelMandates(cu); err != nil {
		t.Fatal(err)
	}
	wait(t, a.emu)
	ds = a.emu.WebhookDeliveries()
	if n := len(refusing.all()); n != 4 || len(ds) != 3 {
		t.Fatalf("refused webhook: %d attempts (want 4), %d deliveries (want 3)", n, len(ds))
	}
	if d := ds[2]; d.Attempts != 4 || d.Status != 498 || d.Err == nil {
		t.Errorf("refused delivery %+v", d)
	}
	if err := a.emu.ResendLastWebhook(); err == nil || !strings.Contains(err.Error(), "498") {
		t.Errorf("resending to a refusing receiver: %v", err)
	}
}

func TestNoWebhooksUnlessConfigured(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	cu := object(t, a.call("POST", "/customers", `{"customers":{"company_name":"Acme"}}`, nil).body, "customers", "id").(string)
	if _, err := a.emu.AttachPaymentMethod(cu); err != nil {
		t.Fatal(err)
	}
	wait(t, a.emu)
	if ds := a.emu.WebhookDeliveries(); len(ds) != 0 {
		t.Errorf("deliveries without SendWebhooks: %+v", ds)
	}
	if err := a.emu.ResendLastWebhook(); err == nil {
		t.Error("ResendLastWebhook without webhooks succeeded")
	}
}

func TestSignMatchesHMAC(t *testing.T) {
	t.Parallel()
	// GoCardless's published vector (its client libraries' webhook tests).
	body := `{"events":[{"id":"EV00BD05S5VM2T","created_at":"2018-07-05T09:13:51.404Z","resource_type":"subscriptions","action":"created","links":{"subscription":"SB0003JJQ2MR06"},"details":{"origin":"api","cause":"subscription_created","description":"Subscription created via the API."},"metadata":{}},{"id":"EV00BD05TB8K63","created_at":"2018-07-05T09:13:56.893Z","resource_type":"mandates","action":"created","links":{"mandate":"MD000AMA19XGEC"},"details":{"origin":"api","cause":"mandate_created","description":"Mandate created via the API."},"metadata":{}}]}`
	if got := gocardlessemu.Sign([]byte(body), "ED7D658C-D8EB-4941-948B-3973214F2D49"); got != "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e" {
		t.Errorf("Sign = %s", got)
	}
}
