package braintree

// Webhooks, as Braintree's gateway delivers them and its official SDKs
// (braintree 3.40.0 for Node: webhook_notification_gateway.js and
// webhook_testing_gateway.js) check them.
//
// A notification is a POST with an application/x-www-form-urlencoded body
// of two fields:
//
//	bt_payload    base64 of the notification XML, ending in "\n": in
//	              60-character lines each ending in "\n" (Ruby's
//	              Base64.encode64, what the Ruby SDK's samples use and the
//	              gateway, written in Ruby, is expected to send) or one line
//	              (the Node SDK's samples). The SDKs accept newlines in it.
//	bt_signature  "<public key>|<hex HMAC-SHA1 of bt_payload>" with the key
//	              SHA-1(private key), one pair per API key of the merchant,
//	              joined by "&".
//
// Braintree signs bt_payload exactly as it sends it, final "\n" included.
// Like the SDKs, VerifyWebhook accepts a MAC of the payload as received or
// of the payload followed by "\n", because a framework that trims form
// values drops that newline. There is no timestamp under the signature, so
// nothing can be stale: a replayed delivery verifies, carries the same
// event ID, and the inbox drops it.
//
// The XML is
//
//	<notification>
//	  <kind>payment_method_revoked_by_customer</kind>
//	  <timestamp type="datetime">2024-05-01T10:00:00Z</timestamp>
//	  <subject>...one Braintree object...</subject>
//	</notification>
//
// Braintree has no "payment method added" notification. The kinds that can
// mean a change of the customer's payment methods, and so name the customer
// in WebhookEvent.ProviderCustomerID, are:
//
//	payment_method_revoked_by_customer    a PayPal billing agreement cancelled or a
//	                                      Venmo account removed; the subject is the
//	                                      payment method, with its customer-id
//	granted_payment_method_revoked        the same for a payment method granted
//	                                      by another merchant
//	payment_method_customer_data_updated  the subject's payment-method element
//	                                      carries the customer-id (Braintree sends
//	                                      it for Venmo profile changes; paysync's
//	                                      emulator also sends it when a payment
//	                                      method is vaulted)
//	subscription_*                        the customer of the subscription's
//	                                      transactions, when the subject has any:
//	                                      a charge is when a card turns out stale
//
// Every other kind (transactions, disputes, disbursements, the control
// panel's "check") is returned with its Type and ResourceID and no customer:
// the refresh job has nothing to re-read for it.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

var _ paysync.WebhookReceiver = (*Provider)(nil)

// ErrWebhookPayload reports a notification whose signature is good but
// whose payload is not a Braintree notification. WebhookAnswer answers it
// 400.
var ErrWebhookPayload = errors.New("braintree: malformed webhook notification")

// Webhook kinds paysync reads payment-method changes from.
const (
	KindPaymentMethodRevokedByCustomer   = "payment_method_revoked_by_customer"
	KindGrantedPaymentMethodRevoked      = "granted_payment_method_revoked"
	KindPaymentMethodCustomerDataUpdated = "payment_method_customer_data_updated"
)

// VerifyWebhook checks a notification's bt_signature against the
// connection's key pair and returns the one event its bt_payload carries.
// The header is not used: the form body is read whatever its Content-Type.
//
// WebhookEvent.ID is the hex SHA-256 of the decoded notification XML (64
// characters): Braintree's notifications carry no id, and its retries
// (hourly, up to 24 hours) resend the same payload, so a replay or a retry
// yields the same ID whatever line wrapping it arrives with. OccurredAt is
// the notification's timestamp, or now when it has none.
//
// Missing fields, a payload with characters outside base64, no pair for
// the connection's public key and a MAC that does not match all wrap
// paysync.ErrWebhookSignature; a signed payload that is not a notification
// wraps ErrWebhookPayload.
func (p *Provider) VerifyWebhook(_ http.Header, body []byte, now time.Time) ([]paysync.WebhookEvent, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: the body is not a form", paysync.ErrWebhookSignature)
	}
	signature, payload := form.Get("bt_signature"), form.Get("bt_payload")
	if err := p.verifySignature(signature, payload); err != nil {
		return nil, err
	}
	ev, err := parseNotification(payload, now)
	if err != nil {
		return nil, err
	}
	return []paysync.WebhookEvent{ev}, nil
}

// WebhookAnswer is 200 with an empty body for an accepted notification, as
// Braintree expects; 403 for a signature failure; 400 for a signed payload
// that cannot be read; 500 for anything else (paysync could not store it),
// so that Braintree delivers it again. Braintree retries every non-2xx
// answer; the bodies are for people reading logs and name no detail.
func (p *Provider) WebhookAnswer(err error) (int, string) {
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.Is(err, paysync.ErrWebhookSignature):
		return http.StatusForbidden, "invalid signature\n"
	case errors.Is(err, ErrWebhookPayload):
		return http.StatusBadRequest, "malformed notification\n"
	default:
		return http.StatusInternalServerError, "internal error\n"
	}
}

// WebhookChallenge answers Braintree's verification of a destination URL
// (GET with bt_challenge): "<public key>|<hex HMAC-SHA1 of the challenge>",
// the answer of the SDKs' webhookNotification.verify.
//
// A challenge is 20 to 32 lowercase hex digits; anything else gets "" (the
// caller answers 400), as the SDKs refuse it too. The check matters: the
// answer is a webhook signature of the challenge, so signing any string
// would let anyone obtain a valid bt_signature for a payload of their own.
func (p *Provider) WebhookChallenge(challenge string) string {
	if n := len(challenge); n < 20 || n > 32 {
		return ""
	}
	for _, r := range challenge {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return ""
		}
	}
	return p.publicKey + "|" + hex.EncodeToString(p.mac(challenge))
}

// mac is the HMAC-SHA1 of s with SHA-1(private key).
func (p *Provider) mac(s string) []byte {
	m := hmac.New(sha1.New, p.hmacKey[:])
	m.Write([]byte(s))
	return m.Sum(nil)
}

// verifySignature checks bt_signature for bt_payload.
func (p *Provider) verifySignature(signature, payload string) error {
	switch {
	case signature == "":
		return fmt.Errorf("%w: bt_signature is missing", paysync.ErrWebhookSignature)
	case payload == "":
		return fmt.Errorf("%w: bt_payload is missing", paysync.ErrWebhookSignature)
	case !base64Lines(payload):
		return fmt.Errorf("%w: bt_payload contains characters outside base64", paysync.ErrWebhookSignature)
	}
	found := false
	for _, pair := range strings.Split(signature, "&") {
		pub, sig, ok := strings.Cut(pair, "|")
		if !ok || pub != p.publicKey {
			continue
		}
		found = true
		got, err := hex.DecodeString(sig)
		if err != nil {
			continue
		}
		// Both MACs are always computed and compared in constant time.
		asSent := hmac.Equal(got, p.mac(payload))
		trimmed := hmac.Equal(got, p.mac(payload+"\n"))
		if asSent || trimmed {
			return nil
		}
	}
	if !found {
		return fmt.Errorf("%w: no signature for the connection's public key", paysync.ErrWebhookSignature)
	}
	return fmt.Errorf("%w: signature does not match the payload", paysync.ErrWebhookSignature)
}

// base64Lines reports whether s holds only base64 characters and
// newlines, the alphabet the SDKs accept.
func base64Lines(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '\n') {
			return false
		}
	}
	return true
}

// parseNotification decodes a verified bt_payload into its event.
func parseNotification(payload string, now time.Time) (paysync.WebhookEvent, error) {
	// The standard decoder skips the newlines of the wrapped form.
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return paysync.WebhookEvent{}, fmt.Errorf("%w: bt_payload is not base64", ErrWebhookPayload)
	}
	root, err := parseXML(raw)
	if err != nil {
		return paysync.WebhookEvent{}, fmt.Errorf("%w: %v", ErrWebhookPayload, err)
	}
	if root.name != "notification" {
		return paysync.WebhookEvent{}, fmt.Errorf("%w: root element <%s>, want <notification>", ErrWebhookPayload, root.name)
	}
	kind := root.childText("kind")
	if kind == "" {
		return paysync.WebhookEvent{}, fmt.Errorf("%w: no kind", ErrWebhookPayload)
	}
	sum := sha256.Sum256(raw)
	ev := paysync.WebhookEvent{ID: hex.EncodeToString(sum[:]), Type: kind, OccurredAt: now.UTC()}
	if t, err := time.Parse(time.RFC3339, root.childText("timestamp")); err == nil {
		ev.OccurredAt = t.UTC()
	}
	var object *node
	if subject := root.child("subject"); subject != nil && len(subject.children) > 0 {
		object = subject.children[0]
	}
	if object == nil {
		return ev, nil
	}
	// Payment methods and the customer-data metadata are named by their
	// token; subscriptions, transactions, disputes and the rest by id.
	ev.ResourceID = object.childText("token")
	if ev.ResourceID == "" {
		ev.ResourceID = object.childText("id")
	}
	switch {
	case kind == KindPaymentMethodRevokedByCustomer || kind == KindGrantedPaymentMethodRevoked ||
		kind == KindPaymentMethodCustomerDataUpdated:
		// The payment method itself, or the metadata's payment-method
		// element: its customer-id.
		if n := object.find("customer-id"); n != nil {
			ev.ProviderCustomerID = n.text
		}
	case strings.HasPrefix(kind, "subscription_"):
		// A subscription names no customer; its transactions do.
		if txs := object.child("transactions"); txs != nil {
			for _, tx := range txs.children {
				if c := tx.child("customer"); c != nil && c.childText("id") != "" {
					ev.ProviderCustomerID = c.childText("id")
					break
				}
			}
		}
	}
	return ev, nil
}

// node is an element of a notification: its name, its trimmed text and
// its child elements. Attributes are not needed.
type node struct {
	name     string
	text     string
	children []*node
}

// maxDepth bounds the nesting parseXML accepts; Braintree's objects nest
// a handful of levels.
const maxDepth = 32

// parseXML reads a document into its root element.
func parseXML(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []*node
	var text [][]byte // the character data of each open element
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == maxDepth {
				return nil, errors.New("XML nests too deep")
			}
			n := &node{name: t.Name.Local}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack, text = append(stack, n), append(text, nil)
		case xml.CharData:
			if len(text) > 0 {
				text[len(text)-1] = append(text[len(text)-1], t...)
			}
		case xml.EndElement:
			last := len(stack) - 1
			n := stack[last]
			n.text = strings.TrimSpace(string(text[last]))
			stack, text = stack[:last], text[:last]
			if last == 0 {
				return n, nil
			}
		}
	}
}

// child is the first child element named name, or nil.
func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// childText is the text of the first child named name, "" without one.
func (n *node) childText(name string) string {
	if c := n.child(name); c != nil {
		return c.text
	}
	return ""
}

// find is the first element named name with some text, in document order
// under n.
func (n *node) find(name string) *node {
	for _, c := range n.children {
		if c.name == name && c.text != "" {
			return c
		}
		if f := c.find(name); f != nil {
			return f
		}
	}
	return nil
}
