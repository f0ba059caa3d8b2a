package braintreeemu

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paysync/paysync/sandbox/webhooksend"
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

// webhookPolicy: Braintree retries a non-2xx answer hourly for up to 24
// hours; the emulator makes 3 attempts, 50 and 100 ms apart, so tests can
// wait.
var webhookPolicy = webhooksend.Policy{Name: "braintreeemu", Attempts: 3, Backoff: 50 * time.Millisecond, Growth: 2}

// message is one notification for one destination; the log keeps its kind.
type message = webhooksend.Message[string]

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

// SendWebhooks makes the emulator POST its notifications to url from now
// on, through client (http.DefaultClient when nil), as Braintree does to
// each destination configured in its control panel. Calling it again with
// another url adds a destination; with the same url, replaces the client;
// an empty url removes every destination.
//
// secret is ignored: Braintree has no webhook secret, it signs
// notifications with the API key pair, which for the emulator is its own
// fixed credentials (PublicKey, PrivateKey). bt_signature is
// "PublicKey|hex(HMAC-SHA1(SHA-1(PrivateKey), bt_payload))" and bt_payload
// the base64 of the XML in 60-character lines, each ending in "\n".
// Delivery runs in the background, in order, with up to 3 attempts per
// destination on a transport error or a non-2xx answer; WaitWebhooks waits
// for it.
func (e *Emulator) SendWebhooks(url string, client *http.Client, secret string) {
	e.hooks.AddEndpoint(url, client, secret)
}

// WaitWebhooks returns once every queued notification has been delivered
// or has exhausted its attempts, or ctx ends.
func (e *Emulator) WaitWebhooks(ctx context.Context) error { return e.hooks.Wait(ctx) }

// WebhookLog lists the finished deliveries (the latest few hundred),
// oldest first.
func (e *Emulator) WebhookLog() []WebhookDelivery {
	var out []WebhookDelivery
	for _, d := range e.hooks.Log() {
		if d.Done {
			out = append(out, WebhookDelivery{URL: d.URL, Kind: d.Meta, Status: d.Status, Attempts: d.Attempts, Err: d.Err})
		}
	}
	return out
}

// ResendLastWebhook delivers the last notification again, once, byte for
// byte, to every destination, as a replay would, and returns once that is
// done: an error when there was none yet or a destination did not answer
// 2xx.
func (e *Emulator) ResendLastWebhook() error { return e.hooks.Resend() }

// notify signs a notification and queues it for every destination; a
// no-op before SendWebhooks. e.mu is held (the subject reads the store);
// the sender never takes e.mu.
func (e *Emulator) notify(kind string, at time.Time, subject func(*xmlWriter)) {
	e.hooks.Send(func(string) message {
		signature, payload := signNotification(kind, at, subject)
		body := url.Values{"bt_signature": {signature}, "bt_payload": {payload}}.Encode()
		return message{
			Body:   []byte(body),
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Meta:   kind,
		}
	})
}

// signNotification renders the notification XML and signs it: the
// bt_signature and bt_payload Braintree posts.
func signNotification(kind string, at time.Time, subject func(*xmlWriter)) (signature, payload string) {
	var x xmlWriter
	x.b.WriteString(xml.Header)
	x.open("notification", "")
	x.element("kind", "", kind)
	x.datetime("timestamp", at)
	x.open("subject", "")
	subject(&x)
	x.close("subject")
	x.close("notification")
	payload = encode64(x.b.String())
	m := hmac.New(sha1.New, sha1Sum(PrivateKey))
	m.Write([]byte(payload))
	return PublicKey + "|" + hex.EncodeToString(m.Sum(nil)), payload
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
