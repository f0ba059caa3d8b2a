package stripeemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/paysync/paysync/sandbox/webhooksend"
)

// SandboxWebhookSecret is the endpoint secret the sandbox signs webhooks
// with, and sandbox connections verify them with.
const SandboxWebhookSecret = "whsec_paysyncSandboxStripeWebhookSecret0"

// SandboxKey is the secret key of sandbox connections; the emulator takes
// any test key.
const SandboxKey = "sk_test_sandbox"

// APIVersion is the Stripe API version the emulator speaks and stamps on
// its events.
const APIVersion = "2023-10-16"

// webhookPolicy: a few attempts with a short, doubling backoff. Stripe
// itself retries for days; tests need a bounded and quick version of that.
var webhookPolicy = webhooksend.Policy{Name: "stripeemu", Attempts: 4, Backoff: 50 * time.Millisecond, Growth: 2}

// message is a Stripe webhook; the log keeps nothing more about it.
type message = webhooksend.Message[struct{}]

// SendWebhooks configures the webhook endpoint: from now on, every payment
// method attached to or detached from a customer (the hosted setup page,
// the /_sandbox endpoints, AttachPaymentMethod, DetachPaymentMethods), a
// change of a customer's fields and a customer's deletion is POSTed to url
// as Stripe's event, signed with secret in the Stripe-Signature header.
// A nil client means http.DefaultClient; an empty url turns webhooks off
// again. Call it before the changes to be notified of: events are only
// made while an endpoint is set. Deliveries run in the background,
// in order, with a few retries on failure; WaitWebhooks waits for them.
func (e *Emulator) SendWebhooks(url string, client *http.Client, secret string) {
	e.hooks.SetEndpoint(url, client, secret)
}

// WaitWebhooks waits until every event emitted so far was delivered or
// given up on, or ctx ends.
func (e *Emulator) WaitWebhooks(ctx context.Context) error { return e.hooks.Wait(ctx) }

// ResendLastWebhook sends the last delivery again, once, byte for byte:
// the same body and the same Stripe-Signature header (so the same
// timestamp), as a replayed request would. It waits for the answer and
// fails on a non-2xx.
func (e *Emulator) ResendLastWebhook() error { return e.hooks.Resend() }

// eventRequest is an event's request field: the API request that caused
// it, or nulls for an action of the end customer or of the test itself.
type eventRequest struct {
	ID             any `json:"id"`
	IdempotencyKey any `json:"idempotency_key"`
}

// apiRequest names the API request r, whose Request-Id is id.
func apiRequest(r *http.Request, id string) eventRequest {
	return eventRequest{ID: id, IdempotencyKey: null(r.Header.Get("Idempotency-Key"))}
}

// event is Stripe's Event object, fields in the order Stripe sends them.
type event struct {
	ID              string       `json:"id"`
	Object          string       `json:"object"`
	APIVersion      string       `json:"api_version"`
	Created         int64        `json:"created"`
	Data            eventData    `json:"data"`
	Livemode        bool         `json:"livemode"`
	PendingWebhooks int          `json:"pending_webhooks"`
	Request         eventRequest `json:"request"`
	Type            string       `json:"type"`
}

type eventData struct {
	Object             map[string]any `json:"object"`
	PreviousAttributes map[string]any `json:"previous_attributes,omitempty"`
}

// emit queues the event typ about object for delivery, when an endpoint
// is configured. It runs under e.mu, so that events leave in the order the
// changes happened and carry the object as it was then.
func (e *Emulator) emit(typ string, object, previous map[string]any, req eventRequest) {
	e.hooks.Send(func(secret string) message {
		body := e.eventBody(typ, object, previous, req)
		return message{
			Body: body,
			Header: http.Header{
				"Content-Type":  {"application/json; charset=utf-8"},
				"User-Agent":    {"Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
				"Cache-Control": {"no-cache"},
				"Accept":        {"*/*; q=0.5, application/xml"},
			},
			// Each attempt is signed anew, with its own timestamp.
			Stamp: func(h http.Header) { h.Set("Stripe-Signature", SignatureHeader(body, secret, time.Now())) },
		}
	})
}

// eventBody renders a new event as Stripe sends it: indented by two
// spaces, without HTML escapes.
func (e *Emulator) eventBody(typ string, object, previous map[string]any, req eventRequest) []byte {
	ev := event{
		ID:              newID("evt_", 24),
		Object:          "event",
		APIVersion:      APIVersion,
		Created:         e.now().Unix(),
		Data:            eventData{Object: object, PreviousAttributes: previous},
		Livemode:        false,
		PendingWebhooks: 1,
		Request:         req,
		Type:            typ,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ev); err != nil {
		// Only maps of strings, numbers, bools and nils get here.
		panic("stripeemu: encode event: " + err.Error())
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// SignatureHeader is the Stripe-Signature header Stripe sends with body at
// t: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the
// whole endpoint secret, whsec_ prefix included>.
func SignatureHeader(body []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// changes is what Stripe puts in previous_attributes of customer.updated:
// the old values of the fields that changed; for the nested hashes
// invoice_settings and metadata, of their changed keys only.
func changes(before, after map[string]any) map[string]any {
	out := map[string]any{}
	for k, old := range before {
		now := after[k]
		if reflect.DeepEqual(old, now) {
			continue
		}
		if k == "invoice_settings" || k == "metadata" {
			out[k] = nestedChanges(old, now)
			continue
		}
		out[k] = old
	}
	return out
}

func nestedChanges(before, after any) map[string]any {
	b, a := asMap(before), asMap(after)
	out := map[string]any{}
	for k, old := range b {
		if now, ok := a[k]; !ok || !reflect.DeepEqual(old, now) {
			out[k] = old
		}
	}
	// A key that was added had no previous value.
	for k := range a {
		if _, ok := b[k]; !ok {
			out[k] = nil
		}
	}
	return out
}

func asMap(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case map[string]string:
		out := make(map[string]any, len(m))
		for k, s := range m {
			out[k] = s
		}
		return out
	}
	return nil
}

// customerUpdated emits customer.updated when c's API form differs from
// before.
func (e *Emulator) customerUpdated(c *Customer, before map[string]any, req eventRequest) {
	after := c.wire()
	if prev := changes(before, after); len(prev) > 0 {
		e.emit("customer.updated", after, prev, req)
	}
}

// attachNotify attaches a test card as attach does and emits
// payment_method.attached, then customer.updated for the new default.
func (e *Emulator) attachNotify(customerID string, req eventRequest) (*paymentMethod, error) {
	c, ok := e.live(customerID)
	if !ok {
		return nil, ErrNoCustomer
	}
	before := c.wire()
	pm, err := e.attach(customerID)
	if err != nil {
		return nil, err
	}
	e.emit("payment_method.attached", pm.wire(), nil, req)
	e.customerUpdated(c, before, req)
	return pm, nil
}

// detachNotify detaches every payment method as detach does and emits
// payment_method.detached for each, whose object has customer null and
// whose previous_attributes name the former customer, as Stripe's do;
// then customer.updated for the cleared default.
func (e *Emulator) detachNotify(customerID string, req eventRequest) (int, error) {
	c, ok := e.live(customerID)
	if !ok {
		return 0, ErrNoCustomer
	}
	before := c.wire()
	ids := append([]string(nil), e.byOwner[customerID]...)
	n, err := e.detach(customerID)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		e.emit("payment_method.detached", e.methods[id].wire(), map[string]any{"customer": customerID}, req)
	}
	e.customerUpdated(c, before, req)
	return n, nil
}

// setupIntentWire is the succeeded SetupIntent behind a completed setup
// session.
func setupIntentWire(s *session, pm *paymentMethod, created int64) map[string]any {
	var pmID any
	if pm != nil {
		pmID = pm.id
	}
	return map[string]any{
		"id":                                   s.setupIntent,
		"object":                               "setup_intent",
		"application":                          nil,
		"automatic_payment_methods":            nil,
		"cancellation_reason":                  nil,
		"client_secret":                        s.setupIntent + "_secret_" + newID("", 24),
		"created":                              created,
		"customer":                             null(s.customer),
		"description":                          nil,
		"flow_directions":                      nil,
		"last_setup_error":                     nil,
		"latest_attempt":                       newID("setatt_", 24),
		"livemode":                             false,
		"mandate":                              nil,
		"metadata":                             map[string]string{},
		"next_action":                          nil,
		"on_behalf_of":                         nil,
		"payment_method":                       pmID,
		"payment_method_configuration_details": nil,
		"payment_method_options": map[string]any{
			"card": map[string]any{"mandate_options": nil, "network": nil, "request_three_d_secure": "automatic"},
		},
		"payment_method_types": s.paymentMethodTypes,
		"single_use_mandate":   nil,
		"status":               "succeeded",
		"usage":                "off_session",
	}
}
