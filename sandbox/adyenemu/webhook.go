package adyenemu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/paysync/paysync/sandbox/webhooksend"
)

// SandboxWebhookSecret is the webhook HMAC key (hex, as Adyen's Customer
// Area shows it) of the sandbox; the adapter's SandboxHMACKey.
const SandboxWebhookSecret = "70617973796E6320616479656E2073616E64626F7820686D6163206B65792121"

// Webhook kinds, as WebhookDelivery.Kind names them.
const (
	// StandardWebhook is Adyen's Standard webhook: a notificationItems
	// batch, each item signed in additionalData.hmacSignature.
	StandardWebhook = "standard"
	// TokenizationWebhook is one of Adyen's Tokenization webhooks
	// (recurring.token.*), signed as a whole in the HmacSignature header.
	TokenizationWebhook = "tokenization"
)

// webhookPolicy: a few quick attempts, 50, 150 and 450 ms apart, as a test
// can wait for them.
var webhookPolicy = webhooksend.Policy{Name: "adyenemu", Attempts: 4, Backoff: 50 * time.Millisecond, Growth: 3}

// hookMeta is what the log keeps about a notification besides its bytes.
type hookMeta struct{ kind, event, psp, shopper string }

// message is an Adyen notification for one endpoint.
type message = webhooksend.Message[hookMeta]

// WebhookDelivery is one notification the emulator sent, or is sending.
type WebhookDelivery struct {
	Kind string
	// Event is the eventCode (standard) or type (tokenization).
	Event            string
	PSPReference     string
	ShopperReference string
	// Body and Header are exactly what was posted.
	Body   []byte
	Header http.Header
	// Attempts made so far; Status and Response are those of the last one
	// (Status 0 when it got no answer, Err says why).
	Attempts int
	Status   int
	Response string
	Err      string
	// Accepted: the receiver answered 2xx (and "[accepted]" to a standard
	// webhook). Done: no attempt is left to make.
	Accepted bool
	Done     bool
}

// SendWebhooks makes the emulator post Adyen's webhooks to url, signed with
// secret (a hex HMAC key, like SandboxWebhookSecret), from now on: whenever
// a payment method is stored for a shopper (a payment link completed, the
// /_sandbox routes, AttachPaymentMethod) a Standard AUTHORISATION webhook
// and a Tokenization recurring.token.created webhook, and whenever one is
// removed (DELETE /storedPaymentMethods/{id}, the /_sandbox route,
// DetachPaymentMethods) a recurring.token.disabled webhook. client nil
// means http.DefaultClient; an empty url turns webhooks off. Deliveries run
// in the background, in order, each retried a few times, quickly, until the
// receiver accepts it; WaitWebhooks waits for them. A secret that is not
// hex is a programming error: it panics.
func (e *Emulator) SendWebhooks(url string, client *http.Client, secret string) {
	if key, err := hex.DecodeString(secret); err != nil || len(key) == 0 {
		panic("adyenemu: SendWebhooks: the secret must be a hex HMAC key")
	}
	e.hooks.SetEndpoint(url, client, secret)
}

// Webhooks returns the deliveries made so far (the latest few hundred),
// oldest first.
func (e *Emulator) Webhooks() []WebhookDelivery {
	log := e.hooks.Log()
	out := make([]WebhookDelivery, len(log))
	for i, d := range log {
		out[i] = WebhookDelivery{
			Kind: d.Meta.kind, Event: d.Meta.event, PSPReference: d.Meta.psp, ShopperReference: d.Meta.shopper,
			Body: d.Body, Header: d.Header, Attempts: d.Attempts, Status: d.Status, Response: d.Response,
			Accepted: d.Accepted, Done: d.Done,
		}
		if d.Err != nil {
			out[i].Err = d.Err.Error()
		}
	}
	return out
}

// WaitWebhooks waits until every delivery started so far has been accepted
// or has used up its attempts, or ctx ends.
func (e *Emulator) WaitWebhooks(ctx context.Context) error { return e.hooks.Wait(ctx) }

// ResendLastWebhook posts the last notification again, byte for byte and
// with the same headers, as Adyen does when it retries, once, and waits
// for the answer: nil when the receiver accepted it.
func (e *Emulator) ResendLastWebhook() error { return e.hooks.Resend() }

// acceptedStandard is Adyen's rule for a Standard webhook: a 2xx answer
// whose body is "[accepted]".
func acceptedStandard(status int, answer string) bool {
	return status >= 200 && status < 300 && strings.TrimSpace(answer) == "[accepted]"
}

// hmacKey is the key a secret names; SendWebhooks checked that it is hex.
func hmacKey(secret string) []byte {
	key, _ := hex.DecodeString(secret)
	return key
}

// origin says how a payment method came to be stored.
type origin struct {
	merchantAccount   string
	merchantReference string
	currency          string
	linkID            string
}

// notificationItem is Adyen's NotificationRequestItem.
type notificationItem struct {
	AdditionalData      map[string]string `json:"additionalData"`
	Amount              itemAmount        `json:"amount"`
	EventCode           string            `json:"eventCode"`
	EventDate           string            `json:"eventDate"`
	MerchantAccountCode string            `json:"merchantAccountCode"`
	MerchantReference   string            `json:"merchantReference"`
	Operations          []string          `json:"operations,omitempty"`
	OriginalReference   string            `json:"originalReference,omitempty"`
	PaymentMethod       string            `json:"paymentMethod,omitempty"`
	PSPReference        string            `json:"pspReference"`
	Reason              string            `json:"reason,omitempty"`
	Success             string            `json:"success"`
}

type itemAmount struct {
	Currency string `json:"currency"`
	Value    int64  `json:"value"`
}

type notificationItemWrapper struct {
	Item notificationItem `json:"NotificationRequestItem"`
}

// tokenWebhook is a Tokenization webhook (recurring.token.*).
type tokenWebhook struct {
	CreatedAt   string    `json:"createdAt"`
	Data        tokenData `json:"data"`
	Environment string    `json:"environment"`
	EventID     string    `json:"eventId"`
	Type        string    `json:"type"`
}

type tokenData struct {
	MerchantAccount       string `json:"merchantAccount"`
	Operation             string `json:"operation,omitempty"`
	ShopperReference      string `json:"shopperReference"`
	StoredPaymentMethodID string `json:"storedPaymentMethodId"`
	Type                  string `json:"type"`
}

// signItem sets additionalData.hmacSignature the way Adyen does.
func signItem(key []byte, it *notificationItem) {
	msg := strings.Join([]string{it.PSPReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		fmt.Sprint(it.Amount.Value), it.Amount.Currency, it.EventCode, it.Success}, ":")
	it.AdditionalData["hmacSignature"] = sign(key, []byte(msg))
}

func sign(key, msg []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// adyenTime formats a time as Adyen's webhooks do (ISO 8601 with offset).
func adyenTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// webhooksStored sends what Adyen sends when a zero-amount authorisation
// stores a card: a Standard AUTHORISATION webhook carrying the token and
// the shopper in additionalData, and a recurring.token.created webhook.
func (e *Emulator) webhooksStored(m storedMethod, o origin) {
	now := e.now()
	e.hooks.Send(func(secret string) message {
		item := notificationItem{
			AdditionalData: map[string]string{
				"recurring.recurringDetailReference": m.ID,
				"recurring.shopperReference":         m.ShopperReference,
				"recurringProcessingModel":           "UnscheduledCardOnFile",
				"tokenization.shopperReference":      m.ShopperReference,
				"tokenization.storedPaymentMethodId": m.ID,
				"tokenization.store.operationType":   "created",
				"cardSummary":                        m.LastFour,
				"expiryDate":                         strings.TrimPrefix(m.ExpiryMonth, "0") + "/" + m.ExpiryYear,
			},
			Amount:              itemAmount{Currency: o.currency, Value: 0},
			EventCode:           "AUTHORISATION",
			EventDate:           adyenTime(now),
			MerchantAccountCode: o.merchantAccount,
			MerchantReference:   o.merchantReference,
			Operations:          []string{"CANCEL", "CAPTURE", "REFUND"},
			PaymentMethod:       m.Brand,
			PSPReference:        pspReference(),
			Success:             "true",
		}
		if o.linkID != "" {
			item.AdditionalData["paymentLinkId"] = o.linkID
		}
		signItem(hmacKey(secret), &item)
		body, _ := json.Marshal(struct {
			Live              string                    `json:"live"`
			NotificationItems []notificationItemWrapper `json:"notificationItems"`
		}{"false", []notificationItemWrapper{{item}}})
		return message{
			Body:     body,
			Header:   http.Header{"Content-Type": {"application/json"}},
			Accepted: acceptedStandard,
			Meta:     hookMeta{kind: StandardWebhook, event: item.EventCode, psp: item.PSPReference, shopper: m.ShopperReference},
		}
	})
	e.sendTokenWebhook("recurring.token.created", m, "created")
}

// webhookRemoved sends recurring.token.disabled, which Adyen sends when
// stored payment details are deleted.
func (e *Emulator) webhookRemoved(m storedMethod) {
	e.sendTokenWebhook("recurring.token.disabled", m, "")
}

// sendTokenWebhook sends a Tokenization webhook about m; each notification
// gets its own pspReference as its eventId.
func (e *Emulator) sendTokenWebhook(typ string, m storedMethod, operation string) {
	e.hooks.Send(func(secret string) message {
		eventID := pspReference()
		body, _ := json.Marshal(tokenWebhook{
			CreatedAt: adyenTime(e.now()),
			Data: tokenData{
				MerchantAccount:       m.merchantAccount,
				Operation:             operation,
				ShopperReference:      m.ShopperReference,
				StoredPaymentMethodID: m.ID,
				Type:                  m.Brand,
			},
			Environment: "test",
			EventID:     eventID,
			Type:        typ,
		})
		return message{
			Body:   body,
			Header: http.Header{"Content-Type": {"application/json"}, "Hmacsignature": {sign(hmacKey(secret), body)}},
			Meta:   hookMeta{kind: TokenizationWebhook, event: typ, psp: eventID, shopper: m.ShopperReference},
		}
	})
}
