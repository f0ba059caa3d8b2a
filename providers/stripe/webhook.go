package stripe

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

// WebhookTolerance is how far a Stripe-Signature timestamp may be from the
// time of verification, Stripe's default: an older delivery is a replay.
const WebhookTolerance = 5 * time.Minute

var _ paysync.WebhookReceiver = (*Provider)(nil)

// errWebhookPayload is a signed body that is not a Stripe event.
var errWebhookPayload = errors.New("stripe: webhook body is not a Stripe event")

func signatureError(reason string) error {
	return fmt.Errorf("stripe: %w: %s", paysync.ErrWebhookSignature, reason)
}

// VerifyWebhook checks the Stripe-Signature header of a delivery, as
// Stripe's SDKs do: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>"> keyed
// with the endpoint secret, any of several v1 entries matching (Stripe
// signs with the old and the new secret while one is rolled), and the
// timestamp within WebhookTolerance of now. It then returns the event the
// body carries; ProviderCustomerID is the customer the event names, also
// the former one of a detached payment method.
func (p *Provider) VerifyWebhook(header http.Header, body []byte, now time.Time) ([]paysync.WebhookEvent, error) {
	if p.webhookSecret == "" {
		return nil, signatureError("the connection has no webhook_secret")
	}
	value := header.Get("Stripe-Signature")
	if value == "" {
		return nil, signatureError("no Stripe-Signature header")
	}
	ts, sigs, err := parseSignature(value)
	if err != nil {
		return nil, err
	}
	want := computeSignature(ts, body, p.webhookSecret)
	matched := false
	for _, sig := range sigs {
		// Every entry is compared, in constant time, to leak nothing.
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return nil, signatureError("no v1 signature matches the body")
	}
	// Checked after the signature, so that "stale" only ever describes a
	// genuine delivery. A timestamp from the future is refused as well:
	// it would stay replayable for longer than the tolerance.
	age := now.Sub(time.Unix(ts, 0))
	if age > WebhookTolerance {
		return nil, signatureError("timestamp is older than the tolerance (" + age.Truncate(time.Second).String() + ")")
	}
	if age < -WebhookTolerance {
		return nil, signatureError("timestamp is in the future")
	}

	ev, err := parseEvent(body)
	if err != nil {
		return nil, err
	}
	return []paysync.WebhookEvent{ev}, nil
}

// parseSignature reads t=<unix>,v1=<hex>[,v1=<hex>...]; other schemes
// (Stripe's test-mode v0) and undecodable entries are ignored, as Stripe's
// SDKs ignore them.
func parseSignature(value string) (int64, [][]byte, error) {
	ts := int64(-1)
	var sigs [][]byte
	for _, item := range strings.Split(value, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, nil, signatureError("invalid timestamp in Stripe-Signature")
			}
			ts = n
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if ts < 0 {
		return 0, nil, signatureError("no timestamp in Stripe-Signature")
	}
	if len(sigs) == 0 {
		return 0, nil, signatureError("no v1 signature in Stripe-Signature")
	}
	return ts, sigs, nil
}

func computeSignature(ts int64, body []byte, secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// wireEvent is the part of Stripe's Event paysync reads.
type wireEvent struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object             json.RawMessage `json:"object"`
		PreviousAttributes json.RawMessage `json:"previous_attributes"`
	} `json:"data"`
}

// wireObject is the part of an event's object (or previous_attributes)
// that names a customer.
type wireObject struct {
	ID       string          `json:"id"`
	Object   string          `json:"object"`
	Customer json.RawMessage `json:"customer"`
}

func parseEvent(body []byte) (paysync.WebhookEvent, error) {
	var ev wireEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return paysync.WebhookEvent{}, fmt.Errorf("%w: %v", errWebhookPayload, err)
	}
	if ev.ID == "" || ev.Type == "" || (ev.Object != "" && ev.Object != "event") {
		return paysync.WebhookEvent{}, fmt.Errorf("%w: no id, type or object event", errWebhookPayload)
	}
	out := paysync.WebhookEvent{ID: ev.ID, Type: ev.Type}
	if ev.Created > 0 {
		out.OccurredAt = time.Unix(ev.Created, 0).UTC()
	}
	var obj, prev wireObject
	if !decodeObject(ev.Data.Object, &obj) {
		return paysync.WebhookEvent{}, fmt.Errorf("%w: data.object is not an object", errWebhookPayload)
	}
	// previous_attributes is optional and only ever read for a customer.
	decodeObject(ev.Data.PreviousAttributes, &prev)
	out.ResourceID = obj.ID
	switch {
	case obj.Object == "customer":
		out.ProviderCustomerID = asCustomerID(obj.ID)
	case customerID(obj.Customer) != "":
		out.ProviderCustomerID = customerID(obj.Customer)
	default:
		// payment_method.detached: the object has customer null, and the
		// former customer is in previous_attributes.
		out.ProviderCustomerID = customerID(prev.Customer)
	}
	return out, nil
}

// decodeObject decodes a JSON object into dst; null or absent leaves dst
// empty. It reports false for any other JSON value.
func decodeObject(raw json.RawMessage, dst *wireObject) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return true
	}
	if raw[0] != '{' {
		return false
	}
	return json.Unmarshal(raw, dst) == nil
}

// customerID reads a customer reference: an id string, or an expanded
// customer object. Only Stripe customer ids (cus_...) are returned.
func customerID(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var id string
	switch raw[0] {
	case '"':
		if json.Unmarshal(raw, &id) != nil {
			return ""
		}
	case '{':
		var c wireObject
		if json.Unmarshal(raw, &c) != nil || (c.Object != "" && c.Object != "customer") {
			return ""
		}
		id = c.ID
	}
	return asCustomerID(id)
}

// asCustomerID returns id when it is a Stripe customer id, else "".
func asCustomerID(id string) string {
	if !strings.HasPrefix(id, "cus_") || len(id) == len("cus_") {
		return ""
	}
	return id
}

// WebhookAnswer is what Stripe expects back: 200 with {"received":true}
// for an accepted delivery; 400 for a bad signature or body, which Stripe
// retries and reports on the endpoint; 500 when paysync failed to take in
// a genuine delivery, so that Stripe sends it again.
func (p *Provider) WebhookAnswer(err error) (int, string) {
	switch {
	case err == nil:
		return http.StatusOK, `{"received":true}`
	case errors.Is(err, paysync.ErrWebhookSignature):
		return http.StatusBadRequest, `{"error":"webhook signature verification failed"}`
	case errors.Is(err, errWebhookPayload):
		return http.StatusBadRequest, `{"error":"invalid webhook payload"}`
	default:
		return http.StatusInternalServerError, `{"error":"webhook could not be processed"}`
	}
}
