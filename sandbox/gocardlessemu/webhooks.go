package gocardlessemu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/paysync/paysync/sandbox/webhooksend"
)

// SandboxWebhookSecret is the webhook endpoint secret of sandbox
// connections that configure none: the emulator signs with it when paysync
// wires it up, and the adapter verifies with it.
const SandboxWebhookSecret = "paysync_sandbox_gocardless_webhook_secret"

// SignatureHeader carries the hex HMAC-SHA256 of the raw body, keyed with
// the webhook endpoint secret.
const SignatureHeader = "Webhook-Signature"

// Sign returns the Webhook-Signature GoCardless sends for body: the hex
// HMAC-SHA256 of the raw body keyed with the endpoint secret.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// webhookPolicy: a receiver gets four tries, 50 ms apart and doubling.
// GoCardless itself retries for days; the emulator keeps tests fast.
var webhookPolicy = webhooksend.Policy{Name: "gocardlessemu", Attempts: 4, Backoff: 50 * time.Millisecond, Growth: 2}

// message is a GoCardless webhook; the log keeps nothing more about it.
type message = webhooksend.Message[struct{}]

// WebhookDelivery is one webhook the emulator sent (or tried to), as
// WebhookDeliveries reports it.
type WebhookDelivery struct {
	// Body is the raw JSON body, Signature its Webhook-Signature header.
	Body      []byte
	Signature string
	// Attempts made, and the status of the last answer (0: no answer).
	Attempts int
	Status   int
	// Err is nil once a 2xx answer came back.
	Err error
}

// webhookEvent is one event in GoCardless's wire format, fields in the
// order GoCardless sends them.
type webhookEvent struct {
	ID           string            `json:"id"`
	CreatedAt    string            `json:"created_at"`
	ResourceType string            `json:"resource_type"`
	Action       string            `json:"action"`
	Links        eventLinks        `json:"links"`
	Details      eventDetails      `json:"details"`
	Metadata     map[string]string `json:"metadata"`
}

// eventLinks of a mandate event: GoCardless names the mandate only, never
// its customer.
type eventLinks struct {
	Mandate string `json:"mandate,omitempty"`
}

type eventDetails struct {
	Origin      string `json:"origin"`
	Cause       string `json:"cause"`
	Description string `json:"description"`
}

type webhookBody struct {
	Events []webhookEvent `json:"events"`
	Meta   struct {
		WebhookID string `json:"webhook_id"`
	} `json:"meta"`
}

// SendWebhooks makes the emulator POST GoCardless's webhooks to url, signed
// with secret, whenever a mandate is created, changes status or is
// cancelled: a billing request flow completed, the /_sandbox mandate
// endpoints, AttachPaymentMethod, CancelMandates, a customer removed. A nil
// client means http.DefaultClient; an empty url turns webhooks off.
// Deliveries run in the background, in order, with a few retries on a
// non-2xx answer; WaitWebhooks waits for them. Calling it again
// reconfigures later deliveries.
func (e *Emulator) SendWebhooks(url string, client *http.Client, secret string) {
	e.wh.SetEndpoint(url, client, secret)
}

// ResendLastWebhook sends the last webhook again, once, byte for byte with
// the same signature, as GoCardless's "retry" does, and waits for its
// outcome: an error unless the receiver answered 2xx.
func (e *Emulator) ResendLastWebhook() error { return e.wh.Resend() }

// WaitWebhooks waits until every queued webhook was delivered or given up
// on, or ctx ends.
func (e *Emulator) WaitWebhooks(ctx context.Context) error { return e.wh.Wait(ctx) }

// WebhookDeliveries lists the latest webhooks sent (a few hundred), oldest
// first, with their outcome; those still being sent are left out.
func (e *Emulator) WebhookDeliveries() []WebhookDelivery {
	var out []WebhookDelivery
	for _, d := range e.wh.Log() {
		if !d.Done {
			continue
		}
		wd := WebhookDelivery{Body: d.Body, Signature: d.Header.Get(SignatureHeader), Attempts: d.Attempts, Status: d.Status}
		if err := d.Problem(); err != nil {
			wd.Err = fmt.Errorf("gocardlessemu: webhook: %w", err)
		}
		out = append(out, wd)
	}
	return out
}

// mandateEvent is an event about m.
func mandateEvent(m *mandate, action, origin, cause, description string) webhookEvent {
	return webhookEvent{
		ID:           newID("EV"),
		CreatedAt:    timestamp(time.Now()),
		ResourceType: "mandates",
		Action:       action,
		Links:        eventLinks{Mandate: m.ID},
		Details:      eventDetails{Origin: origin, Cause: cause, Description: description},
		Metadata:     map[string]string{},
	}
}

// Event details GoCardless gives for the mandate transitions the emulator makes.
const (
	descCreatedAPI   = "Mandate created via the API."
	descCreatedFlow  = "Mandate created by the payer through a billing request flow."
	descSubmitted    = "The mandate has been submitted to the banks."
	descActive       = "The time window after submission for the banks to refuse a mandate has ended without any errors being received, so this mandate is now active."
	descCancelledAPI = "The mandate was cancelled at your request."
	descCancelledBnk = "The mandate was cancelled at a bank branch."
)

// lifecycleEvents are the events of a mandate created straight into
// status: created, then what the banks did to bring it there.
func lifecycleEvents(m *mandate, origin, description string) []webhookEvent {
	evs := []webhookEvent{mandateEvent(m, "created", origin, "mandate_created", description)}
	switch m.Status {
	case "submitted":
		evs = append(evs, mandateEvent(m, "submitted", "gocardless", "mandate_submitted", descSubmitted))
	case "active":
		evs = append(evs,
			mandateEvent(m, "submitted", "gocardless", "mandate_submitted", descSubmitted),
			mandateEvent(m, "active", "gocardless", "mandate_activated", descActive))
	case "cancelled":
		evs = append(evs, mandateEvent(m, "cancelled", "bank", "mandate_cancelled", descCancelledBnk))
	case "failed", "expired", "consumed", "blocked", "suspended_by_payer":
		// Sandbox-only shortcuts: a generic cause for each.
		evs = append(evs, mandateEvent(m, m.Status, "gocardless", "mandate_"+m.Status, "The mandate is now "+m.Status+"."))
	}
	return evs
}

// cancelledEvents are the events of mandates just cancelled.
func cancelledEvents(ms []*mandate, origin, description string) []webhookEvent {
	evs := make([]webhookEvent, 0, len(ms))
	for _, m := range ms {
		evs = append(evs, mandateEvent(m, "cancelled", origin, "mandate_cancelled", description))
	}
	return evs
}

// emit queues one webhook carrying events, when webhooks are configured.
// Call with e.mu held, so that webhooks leave in the order state changed.
func (e *Emulator) emit(events []webhookEvent) {
	if len(events) == 0 {
		return
	}
	e.wh.Send(func(secret string) message {
		var b webhookBody
		b.Events = events
		b.Meta.WebhookID = newID("WB")
		body, err := json.Marshal(b)
		if err != nil {
			panic(err) // plain strings and maps always marshal
		}
		return message{Body: body, Header: http.Header{
			"Content-Type":  {"application/json"},
			"User-Agent":    {"gocardless-webhook-service/1.1"},
			SignatureHeader: {Sign(body, secret)},
		}}
	})
}
