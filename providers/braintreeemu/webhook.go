package braintreeemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Webhook kinds the emulator sends.
const (
	// KindRevoked is sent for every payment method RevokePaymentMethods
	// (or DELETE /_sandbox/customers/{id}/payment_methods) removes; its
	// subject is the payment method with customer-id and revoked-at.
	// Braintree itself sends it when a customer cancels a PayPal billing
	// agreement or removes a Venmo connection; the emulator sends it for
	// cards too, since revoking is how it lets a customer drop any method.
	KindRevoked = "payment_method_revoked_by_customer"
	// KindCustomerDataUpdated is sent when a payment method is vaulted
	// (AttachPaymentMethod, POST /_sandbox/... or POST /payment_methods).
	// Braintree has no "payment method added" notification, and sends this
	// kind only when a Venmo customer updates their profile; the emulator
	// borrows it because its subject is a payment method with customer-id,
	// which is all a receiver needs to re-read the customer. Against real
	// Braintree, paysync learns of new payment methods from its scheduled
	// refresh instead.
	KindCustomerDataUpdated = "payment_method_customer_data_updated"
)

// Delivery policy: Braintree retries a non-2xx answer hourly for up to 24
// hours; the emulator retries a few times, quickly, so tests can wait.
const (
	webhookAttempts = 3
	webhookBackoff  = 50 * time.Millisecond
	webhookTimeout  = 10 * time.Second
)

// WebhookDelivery is the outcome of delivering one notification to one
// destination.
type WebhookDelivery struct {
	URL  string
	Kind string
	// Status is the last answer's HTTP status, 0 when none came.
	Status   int
	Attempts int
	// Err is the last attempt's transport error, if any.
	Err error
}

// OK reports a 2xx answer.
func (d WebhookDelivery) OK() bool { return d.Status >= 200 && d.Status < 300 }

// webhooks is the emulator's notification sender: one FIFO queue worked by
// at most one goroutine, so destinations see notifications in order.
type webhooks struct {
	mu      sync.Mutex
	idle    *sync.Cond // signalled when the queue is drained
	targets []webhookTarget
	queue   []delivery
	busy    bool
	last    *notification
	log     []WebhookDelivery
}

type webhookTarget struct {
	url    string
	client *http.Client
}

// notification is one signed notification, as Braintree POSTs it.
type notification struct {
	kind, signature, payload string
}

type delivery struct {
	n notification
	t webhookTarget
}

// SendWebhooks makes the emulator POST its notifications to url from now
// on, through client (one with a 10 s timeout when nil), as Braintree does
// to each destination configured in its control panel. Calling it again
// with another url adds a destination; with the same url, replaces the
// client.
//
// Notifications are signed as Braintree signs them, with the emulator's key
// pair (PublicKey, PrivateKey): bt_signature is
// "PublicKey|hex(HMAC-SHA1(SHA-1(PrivateKey), bt_payload))" and bt_payload
// the base64 of the XML in 60-character lines, each ending in "\n".
// Delivery runs in the background, in order, with up to 3 attempts per
// destination on a transport error or a non-2xx answer; WaitWebhooks waits
// for it.
func (e *Emulator) SendWebhooks(url string, client *http.Client) {
	if client == nil {
		client = &http.Client{Timeout: webhookTimeout}
	}
	h := &e.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.targets {
		if h.targets[i].url == url {
			h.targets[i].client = client
			return
		}
	}
	h.targets = append(h.targets, webhookTarget{url: url, client: client})
}

// WaitWebhooks returns once every queued notification has been delivered
// or has exhausted its attempts.
func (e *Emulator) WaitWebhooks() {
	h := &e.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.busy {
		h.idle.Wait()
	}
}

// WebhookLog lists the finished deliveries, oldest first.
func (e *Emulator) WebhookLog() []WebhookDelivery {
	h := &e.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.log)
}

// ResendLastWebhook delivers the last notification again, byte for byte,
// to every destination, as Braintree's retries do, and returns once that is
// done: an error when there was none yet or a destination did not answer
// 2xx after the usual attempts. Call WaitWebhooks first for the original
// delivery to have happened.
func (e *Emulator) ResendLastWebhook() error {
	h := &e.hooks
	h.mu.Lock()
	last, targets := h.last, slices.Clone(h.targets)
	h.mu.Unlock()
	if last == nil {
		return errors.New("braintreeemu: no webhook was sent yet")
	}
	var errs []error
	for _, t := range targets {
		d := deliver(delivery{n: *last, t: t})
		h.mu.Lock()
		h.log = append(h.log, d)
		h.mu.Unlock()
		switch {
		case d.OK():
		case d.Err != nil:
			errs = append(errs, fmt.Errorf("braintreeemu: webhook to %s: %w", t.url, d.Err))
		default:
			errs = append(errs, fmt.Errorf("braintreeemu: webhook to %s answered %d", t.url, d.Status))
		}
	}
	return errors.Join(errs...)
}

// notify signs a notification and queues it for every destination; a
// no-op before SendWebhooks. e.mu is held (the subject reads the store);
// the sender never takes e.mu.
func (e *Emulator) notify(kind string, at time.Time, subject func(*xmlWriter)) {
	h := &e.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.targets) == 0 {
		return
	}
	n := signNotification(kind, at, subject)
	h.last = &n
	for _, t := range h.targets {
		h.queue = append(h.queue, delivery{n: n, t: t})
	}
	if !h.busy {
		h.busy = true
		go h.work()
	}
}

// work delivers the queue until it is empty.
func (h *webhooks) work() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.queue) > 0 {
		d := h.queue[0]
		h.queue = h.queue[1:]
		h.mu.Unlock()
		out := deliver(d)
		h.mu.Lock()
		h.log = append(h.log, out)
	}
	h.busy = false
	h.idle.Broadcast()
}

// deliver POSTs one notification to one destination.
func deliver(d delivery) WebhookDelivery {
	out := WebhookDelivery{URL: d.t.url, Kind: d.n.kind}
	body := url.Values{"bt_signature": {d.n.signature}, "bt_payload": {d.n.payload}}.Encode()
	for attempt := 1; attempt <= webhookAttempts; attempt++ {
		if attempt > 1 {
			time.Sleep(webhookBackoff * time.Duration(attempt-1))
		}
		out.Attempts = attempt
		req, err := http.NewRequest(http.MethodPost, d.t.url, strings.NewReader(body))
		if err != nil {
			out.Err = err
			return out
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := d.t.client.Do(req)
		if err != nil {
			out.Status, out.Err = 0, err
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		out.Status, out.Err = resp.StatusCode, nil
		if out.OK() {
			return out
		}
	}
	return out
}

// signNotification renders the notification XML and signs it.
func signNotification(kind string, at time.Time, subject func(*xmlWriter)) notification {
	var x xmlWriter
	x.b.WriteString(xml.Header)
	x.open("notification", "")
	x.element("kind", "", kind)
	x.datetime("timestamp", at)
	x.open("subject", "")
	subject(&x)
	x.close("subject")
	x.close("notification")
	payload := encode64(x.b.String())
	m := hmac.New(sha1.New, sha1Sum(PrivateKey))
	m.Write([]byte(payload))
	return notification{kind: kind, payload: payload, signature: PublicKey + "|" + hex.EncodeToString(m.Sum(nil))}
}

func sha1Sum(s string) []byte {
	sum := sha1.Sum([]byte(s))
	return sum[:]
}

// encode64 is base64 as Ruby's Base64.encode64 writes it (the Ruby SDK's
// sample notifications use it, and Braintree's gateway is Ruby): lines of
// 60 characters, each ending in "\n". Receivers must cope with the newlines.
func encode64(s string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	b.WriteString(enc + "\n")
	return b.String()
}

// notifyRevoked announces that pm, just removed from c, was revoked.
// e.mu is held.
func (e *Emulator) notifyRevoked(c *customer, pm *paymentMethod, at time.Time) {
	pm.revokedAt = at
	e.notify(KindRevoked, at, func(x *xmlWriter) { x.paymentMethod(c.id, pm) })
}

// notifyVaulted announces pm, just vaulted for c. e.mu is held.
func (e *Emulator) notifyVaulted(c *customer, pm *paymentMethod, at time.Time) {
	e.notify(KindCustomerDataUpdated, at, func(x *xmlWriter) {
		x.open("payment-method-customer-data-updated-metadata", "")
		x.text("token", pm.token)
		x.open("payment-method", "")
		x.paymentMethod(c.id, pm)
		x.close("payment-method")
		x.datetime("datetime-updated", at)
		x.close("payment-method-customer-data-updated-metadata")
	})
}
