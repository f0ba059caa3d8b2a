package adyen

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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

// HMACSignatureHeader carries the signature of webhooks signed as a whole
// (Tokenization webhooks, among others): base64 HMAC-SHA256 of the raw body.
const HMACSignatureHeader = "HmacSignature"

// ErrMalformedWebhook is wrapped by VerifyWebhook errors for bodies that
// are not Adyen webhooks at all (not JSON, no event code, ...).
var ErrMalformedWebhook = errors.New("malformed Adyen webhook")

// Keys of NotificationRequestItem.additionalData naming the shopper, in the
// order they are consulted: the recurring.* keys of zero-amount
// authorisations, their tokenization.* successors (Checkout v68+), and the
// plain key RECURRING_CONTRACT items carry.
var shopperReferenceKeys = []string{"recurring.shopperReference", "tokenization.shopperReference", "shopperReference"}

// parseHMACKey decodes Adyen's hex HMAC key; "" means none is configured.
func parseHMACKey(conn paysync.Connection, hexKey string) ([]byte, error) {
	if hexKey == "" {
		return nil, nil
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) == 0 {
		return nil, configError(conn, "credentials.hmac_key", "invalid_value",
			"credentials.hmac_key must be the hexadecimal HMAC key of the webhook in Adyen's Customer Area")
	}
	return key, nil
}

var _ paysync.WebhookReceiver = (*Provider)(nil)

// VerifyWebhook checks one delivery to the connection's webhook endpoint and
// returns its events. It understands the two shapes Adyen posts:
//
//   - Standard webhooks, {"live":..,"notificationItems":[{"NotificationRequestItem":{..}}]}:
//     every item carries its own additionalData.hmacSignature, the base64
//     HMAC-SHA256 (hex-decoded key) of
//     pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success.
//     Every item must verify: one bad or unsigned item rejects the whole
//     delivery, so Adyen retries it as a unit.
//   - Webhooks signed as a whole, such as the Tokenization webhooks
//     (recurring.token.created, recurring.token.disabled, ...): the
//     HmacSignature header is the base64 HMAC-SHA256 of the raw body.
//
// Adyen signs neither a timestamp nor additionalData (which names the
// shopper), so now only stands in for a missing event date, and an event is
// only a hint of which shopper to re-read. Event ids are stable across
// Adyen's redeliveries: "<eventCode>:<pspReference>:<success>" for standard
// items and "<type>:<eventId>" for the others.
func (p *Provider) VerifyWebhook(header http.Header, body []byte, now time.Time) ([]paysync.WebhookEvent, error) {
	if len(p.hmacKey) == 0 {
		return nil, fmt.Errorf("adyen: connection has no credentials.hmac_key to verify webhooks with: %w", paysync.ErrWebhookSignature)
	}
	var probe struct {
		NotificationItems json.RawMessage `json:"notificationItems"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, malformed("the body is not a JSON object: %v", err)
	}
	if probe.NotificationItems != nil {
		return p.verifyStandard(body, now)
	}
	return p.verifySigned(header.Get(HMACSignatureHeader), body, now)
}

// WebhookAnswer returns what Adyen expects: 200 with the exact body
// "[accepted]" for an accepted delivery. Anything else makes Adyen retry
// the delivery later: 401 for a bad signature, 400 for a body that is no
// webhook, 500 for a failure on paysync's side.
func (p *Provider) WebhookAnswer(err error) (int, string) {
	switch {
	case err == nil:
		return http.StatusOK, "[accepted]"
	case errors.Is(err, paysync.ErrWebhookSignature):
		return http.StatusUnauthorized, "invalid HMAC signature"
	case errors.Is(err, ErrMalformedWebhook):
		return http.StatusBadRequest, "malformed notification"
	default:
		return http.StatusInternalServerError, "notification not stored, retry later"
	}
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("adyen: %s: %w", fmt.Sprintf(format, args...), ErrMalformedWebhook)
}

func badSignature(format string, args ...any) error {
	return fmt.Errorf("adyen: %s: %w", fmt.Sprintf(format, args...), paysync.ErrWebhookSignature)
}

// standardItem is a NotificationRequestItem with its signed fields kept raw:
// Adyen sends strings and numbers, and the signature covers their text.
type standardItem struct {
	PSPReference        json.RawMessage `json:"pspReference"`
	OriginalReference   json.RawMessage `json:"originalReference"`
	MerchantAccountCode json.RawMessage `json:"merchantAccountCode"`
	MerchantReference   json.RawMessage `json:"merchantReference"`
	Amount              *struct {
		Value    json.RawMessage `json:"value"`
		Currency json.RawMessage `json:"currency"`
	} `json:"amount"`
	EventCode      json.RawMessage            `json:"eventCode"`
	Success        json.RawMessage            `json:"success"`
	EventDate      json.RawMessage            `json:"eventDate"`
	AdditionalData map[string]json.RawMessage `json:"additionalData"`
}

func (p *Provider) verifyStandard(body []byte, now time.Time) ([]paysync.WebhookEvent, error) {
	var n struct {
		NotificationItems []struct {
			Item *standardItem `json:"NotificationRequestItem"`
		} `json:"notificationItems"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, malformed("notificationItems: %v", err)
	}
	if len(n.NotificationItems) == 0 {
		return nil, malformed("no notification items")
	}
	events := make([]paysync.WebhookEvent, 0, len(n.NotificationItems))
	for i, wrapper := range n.NotificationItems {
		item := wrapper.Item
		if item == nil {
			return nil, malformed("notification item %d has no NotificationRequestItem", i)
		}
		fields, err := item.signedFields()
		if err != nil {
			return nil, malformed("notification item %d: %v", i, err)
		}
		sig, err := scalar(item.AdditionalData["hmacSignature"])
		if err != nil || sig == "" {
			return nil, badSignature("notification item %d has no additionalData.hmacSignature", i)
		}
		if !p.validSignature(sig, []byte(strings.Join(fields, ":"))) {
			return nil, badSignature("notification item %d: the HMAC signature does not match", i)
		}
		psp, eventCode, success := fields[0], fields[6], fields[7]
		if psp == "" || eventCode == "" {
			return nil, malformed("notification item %d has no pspReference or eventCode", i)
		}
		ev := paysync.WebhookEvent{
			ID:         eventCode + ":" + psp + ":" + success,
			Type:       eventCode,
			ResourceID: psp,
			OccurredAt: eventTime(item.EventDate, now),
		}
		for _, key := range shopperReferenceKeys {
			if ref, err := scalar(item.AdditionalData[key]); err == nil && ref != "" {
				ev.ProviderCustomerID = ref
				break
			}
		}
		events = append(events, ev)
	}
	return events, nil
}

// signedFields returns, in order, the eight values Adyen's HMAC covers.
func (it *standardItem) signedFields() ([]string, error) {
	var value, currency json.RawMessage
	if it.Amount != nil {
		value, currency = it.Amount.Value, it.Amount.Currency
	}
	raws := []json.RawMessage{it.PSPReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		value, currency, it.EventCode, it.Success}
	names := []string{"pspReference", "originalReference", "merchantAccountCode", "merchantReference",
		"amount.value", "amount.currency", "eventCode", "success"}
	fields := make([]string, len(raws))
	for i, raw := range raws {
		s, err := scalar(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", names[i], err)
		}
		fields[i] = s
	}
	return fields, nil
}

// scalar renders a JSON value as Adyen's signing string does: strings as
// they are, numbers in plain decimal (as JavaScript prints them), booleans
// as true/false, null or absent as "".
func scalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 't', 'f':
		var b bool
		err := json.Unmarshal(raw, &b)
		return strconv.FormatBool(b), err
	case '{', '[':
		return "", errors.New("an object where a string or number belongs")
	}
	if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return strconv.FormatInt(i, 10), nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return "", fmt.Errorf("not a number: %s", raw)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// eventTime parses Adyen's ISO 8601 event dates, falling back to now.
func eventTime(raw json.RawMessage, now time.Time) time.Time {
	s, err := scalar(raw)
	if err != nil || s == "" {
		return now
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return now
}

// verifySigned handles webhooks whose whole body is signed in the
// HmacSignature header: Tokenization webhooks and Adyen's newer families.
func (p *Provider) verifySigned(signature string, body []byte, now time.Time) ([]paysync.WebhookEvent, error) {
	if signature == "" {
		return nil, badSignature("no notificationItems and no %s header", HMACSignatureHeader)
	}
	if !p.validSignature(signature, body) {
		return nil, badSignature("the %s header does not match the body", HMACSignatureHeader)
	}
	var w struct {
		Type      string          `json:"type"`
		EventID   string          `json:"eventId"`
		CreatedAt json.RawMessage `json:"createdAt"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, malformed("webhook: %v", err)
	}
	if w.Type == "" {
		return nil, malformed("webhook has no type")
	}
	ev := paysync.WebhookEvent{Type: w.Type, OccurredAt: eventTime(w.CreatedAt, now)}
	if w.EventID != "" {
		ev.ID = w.Type + ":" + w.EventID
	} else {
		// Redeliveries repeat the body byte for byte.
		sum := sha256.Sum256(body)
		ev.ID = w.Type + ":sha256:" + hex.EncodeToString(sum[:16])
	}
	ev.ResourceID = w.EventID
	if strings.HasPrefix(w.Type, "recurring.token.") {
		var data struct {
			ShopperReference      string `json:"shopperReference"`
			StoredPaymentMethodID string `json:"storedPaymentMethodId"`
		}
		if err := json.Unmarshal(w.Data, &data); err != nil {
			return nil, malformed("%s data: %v", w.Type, err)
		}
		ev.ProviderCustomerID = data.ShopperReference
		if data.StoredPaymentMethodID != "" {
			ev.ResourceID = data.StoredPaymentMethodID
		}
	}
	return []paysync.WebhookEvent{ev}, nil
}

// validSignature compares a base64 signature with the HMAC of msg in
// constant time.
func (p *Provider) validSignature(signature string, msg []byte) bool {
	given, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, p.hmacKey)
	mac.Write(msg)
	return hmac.Equal(mac.Sum(nil), given)
}
