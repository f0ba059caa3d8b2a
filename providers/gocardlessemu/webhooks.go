package gocardlessemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
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

// Delivery bounds: a receiver gets webhookAttempts tries, webhookBackoff
// apart (doubling), each cut off after webhookTimeout. GoCardless itself
// retries for days; the emulator keeps tests fast.
const (
	webhookAttempts = 4
	webhookBackoff  = 50 * time.Millisecond
	webhookTimeout  = 10 * time.Second
)

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

// delivery is a queued webhook.
type delivery struct {
	url       string
	client    *http.Client
	body      []byte
	signature string
	done      chan struct{}
	result    WebhookDelivery
}

// webhooks is the emulator's webhook sender: one worker delivers in order.
type webhooks struct {
	mu        sync.Mutex
	url       string
	client    *http.Client
	secret    string
	queue     []*delivery
	running   bool
	idle      chan struct{} // closed while nothing is queued or in flight
	last      *delivery     // the last webhook built from events
	delivered []WebhookDelivery
}

// SendWebhooks makes the emulator POST GoCardless's webhooks to url, signed
// with secret, whenever a mandate is created, changes status or is
// cancelled: a billing request flow completed, the /_sandbox mandate
// endpoints, AttachPaymentMethod, CancelMandates, a customer removed. A nil
// client means http.DefaultClient. Deliveries run in the background, in
// order, with a few retries on a non-2xx answer; WaitWebhooks waits for
// them. Calling it again reconfigures later deliveries.
func (e *Emulator) SendWebhooks(url string, client *http.Client, secret string) {
	if client == nil {
		client = http.DefaultClient
	}
	e.wh.mu.Lock()
	defer e.wh.mu.Unlock()
	e.wh.url, e.wh.client, e.wh.secret = url, client, secret
}

// ResendLastWebhook sends the last webhook again, byte for byte with the
// same signature, as GoCardless's "retry" does, and waits for its outcome:
// an error unless the receiver answered 2xx.
func (e *Emulator) ResendLastWebhook() error {
	e.wh.mu.Lock()
	last := e.wh.last
	if last == nil {
		e.wh.mu.Unlock()
		return errors.New("gocardlessemu: no webhook was sent yet")
	}
	d := &delivery{url: last.url, client: last.client, body: last.body, signature: last.signature, done: make(chan struct{})}
	e.wh.enqueue(d)
	e.wh.mu.Unlock()
	<-d.done
	return d.result.Err
}

// WaitWebhooks waits until every queued webhook was delivered or given up
// on, or ctx ends.
func (e *Emulator) WaitWebhooks(ctx context.Context) error {
	e.wh.mu.Lock()
	idle := e.wh.idle
	e.wh.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WebhookDeliveries lists the webhooks sent so far, oldest first, with
// their outcome.
func (e *Emulator) WebhookDeliveries() []WebhookDelivery {
	e.wh.mu.Lock()
	defer e.wh.mu.Unlock()
	out := make([]WebhookDelivery, len(e.wh.delivered))
	for i, d := range e.wh.delivered {
		d.Body = append([]byte(nil), d.Body...)
		out[i] = d
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
	e.wh.mu.Lock()
	defer e.wh.mu.Unlock()
	if e.wh.url == "" {
		return
	}
	var b webhookBody
	b.Events = events
	b.Meta.WebhookID = newID("WB")
	body, err := json.Marshal(b)
	if err != nil {
		panic(err) // plain strings and maps always marshal
	}
	d := &delivery{url: e.wh.url, client: e.wh.client, body: body, signature: Sign(body, e.wh.secret), done: make(chan struct{})}
	e.wh.last = d
	e.wh.enqueue(d)
}

// enqueue adds d and starts the worker. Call with w.mu held.
func (w *webhooks) enqueue(d *delivery) {
	w.queue = append(w.queue, d)
	if w.running {
		return
	}
	w.running = true
	w.idle = make(chan struct{})
	go w.work()
}

// work delivers the queue in order, then marks the sender idle.
func (w *webhooks) work() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			close(w.idle)
			w.mu.Unlock()
			return
		}
		d := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()

		d.result = d.send()
		w.mu.Lock()
		w.delivered = append(w.delivered, d.result)
		w.mu.Unlock()
		close(d.done)
	}
}

// send POSTs the webhook until a 2xx answer or the attempts run out.
func (d *delivery) send() WebhookDelivery {
	res := WebhookDelivery{Body: d.body, Signature: d.signature}
	backoff := webhookBackoff
	for res.Attempts < webhookAttempts {
		if res.Attempts > 0 {
			time.Sleep(backoff)
			backoff *= 2
		}
		res.Attempts++
		res.Status, res.Err = d.post()
		if res.Err == nil {
			return res
		}
	}
	return res
}

func (d *delivery) post() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gocardless-webhook-service/1.1")
	req.Header.Set(SignatureHeader, d.signature)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("gocardlessemu: webhook answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
