package adyenemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
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

// Delivery policy: a few quick attempts, as a test can wait for them.
const (
	webhookAttempts     = 4
	webhookFirstBackoff = 50 * time.Millisecond
	webhookTimeout      = 10 * time.Second
	webhookLogSize      = 256
)

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

type webhookTarget struct {
	url    string
	client *http.Client
	key    []byte
}

// outgoing is one signed notification, ready to post.
type outgoing struct {
	kind, event, psp, shopper string
	body                      []byte
	header                    http.Header
}

// SendWebhooks makes the emulator post Adyen's webhooks to url, signed with
// secret (a hex HMAC key, like SandboxWebhookSecret), from now on: whenever
// a payment method is stored for a shopper (a payment link completed, the
// /_sandbox routes, AttachPaymentMethod) a Standard AUTHORISATION webhook
// and a Tokenization recurring.token.created webhook, and whenever one is
// removed (DELETE /storedPaymentMethods/{id}, the /_sandbox route,
// DetachPaymentMethods) a recurring.token.disabled webhook. client nil
// means http.DefaultClient. Each delivery runs in its own goroutine and is
// retried a few times, quickly, until the receiver accepts it; WaitWebhooks
// waits for them. A secret that is not hex is a programming error: it panics.
func (e *Emulator) SendWebhooks(url string, client *http.Client, secret string) {
	key, err := hex.DecodeString(secret)
	if err != nil || len(key) == 0 {
		panic("adyenemu: SendWebhooks: the secret must be a hex HMAC key")
	}
	if client == nil {
		client = http.DefaultClient
	}
	e.hookMu.Lock()
	defer e.hookMu.Unlock()
	e.hookTarget = &webhookTarget{url: url, client: client, key: key}
}

// Webhooks returns the deliveries made so far (the latest few hundred),
// oldest first.
func (e *Emulator) Webhooks() []WebhookDelivery {
	e.hookMu.Lock()
	defer e.hookMu.Unlock()
	out := make([]WebhookDelivery, len(e.hookLog))
	for i, d := range e.hookLog {
		out[i] = *d
		out[i].Body = append([]byte(nil), d.Body...)
		out[i].Header = d.Header.Clone()
	}
	return out
}

// WaitWebhooks waits until every delivery started so far has been accepted
// or has used up its attempts, or fails after timeout.
func (e *Emulator) WaitWebhooks(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		e.hookMu.Lock()
		pending := e.hookPending
		e.hookMu.Unlock()
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("adyenemu: %d webhook deliveries still running after %s", pending, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ResendLastWebhook posts the last notification again, byte for byte and
// with the same headers, as Adyen does when it retries, once, and waits
// for the answer: nil when the receiver accepted it.
func (e *Emulator) ResendLastWebhook() error {
	e.hookMu.Lock()
	target, last := e.hookTarget, e.hookLast
	var d *WebhookDelivery
	if target != nil && last != nil {
		d = e.logDelivery(last)
	}
	e.hookMu.Unlock()
	switch {
	case target == nil:
		return errors.New("adyenemu: SendWebhooks was not called")
	case last == nil:
		return errors.New("adyenemu: no webhook was sent yet")
	}
	if !e.attempt(target, last, d) {
		e.hookMu.Lock()
		defer e.hookMu.Unlock()
		d.Done = true
		return fmt.Errorf("adyenemu: the resent webhook was not accepted: status %d %q %s", d.Status, d.Response, d.Err)
	}
	return nil
}

// logDelivery records a new delivery of o; e.hookMu is held.
func (e *Emulator) logDelivery(o *outgoing) *WebhookDelivery {
	d := &WebhookDelivery{Kind: o.kind, Event: o.event, PSPReference: o.psp, ShopperReference: o.shopper, Body: o.body, Header: o.header}
	if len(e.hookLog) == webhookLogSize {
		e.hookLog = append(e.hookLog[:0:0], e.hookLog[1:]...)
	}
	e.hookLog = append(e.hookLog, d)
	return d
}

// send records o as the last notification and delivers it in a goroutine.
func (e *Emulator) send(target *webhookTarget, o *outgoing) {
	e.hookMu.Lock()
	e.hookLast = o
	d := e.logDelivery(o)
	e.hookPending++
	e.hookMu.Unlock()
	go func() {
		defer func() {
			e.hookMu.Lock()
			d.Done = true
			e.hookPending--
			e.hookMu.Unlock()
		}()
		backoff := webhookFirstBackoff
		for i := 0; i < webhookAttempts; i++ {
			if i > 0 {
				time.Sleep(backoff)
				backoff *= 3
			}
			if e.attempt(target, o, d) {
				return
			}
		}
	}()
}

// attempt posts o once and records the outcome in d.
func (e *Emulator) attempt(target *webhookTarget, o *outgoing, d *WebhookDelivery) bool {
	status, answer, err := post(target, o)
	accepted := err == nil && status >= 200 && status < 300 &&
		(o.kind != StandardWebhook || strings.TrimSpace(answer) == "[accepted]")
	e.hookMu.Lock()
	defer e.hookMu.Unlock()
	d.Attempts++
	d.Status, d.Response, d.Err = status, answer, ""
	if err != nil {
		d.Err = err.Error()
	}
	d.Accepted = accepted
	if accepted {
		d.Done = true
	}
	return accepted
}

func post(target *webhookTarget, o *outgoing) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.url, bytes.NewReader(o.body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range o.header {
		req.Header[k] = append([]string(nil), v...)
	}
	res, err := target.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 4096))
	return res.StatusCode, string(answer), err
}

// target returns where webhooks go, nil when SendWebhooks was not called.
func (e *Emulator) target() *webhookTarget {
	e.hookMu.Lock()
	defer e.hookMu.Unlock()
	return e.hookTarget
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
	target := e.target()
	if target == nil {
		return
	}
	psp, err := pspReference()
	if err != nil {
		return
	}
	now := e.now()
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
		PSPReference:        psp,
		Success:             "true",
	}
	if o.linkID != "" {
		item.AdditionalData["paymentLinkId"] = o.linkID
	}
	signItem(target.key, &item)
	body, _ := json.Marshal(struct {
		Live              string                    `json:"live"`
		NotificationItems []notificationItemWrapper `json:"notificationItems"`
	}{"false", []notificationItemWrapper{{item}}})
	header := http.Header{"Content-Type": {"application/json"}}
	e.send(target, &outgoing{kind: StandardWebhook, event: item.EventCode, psp: psp, shopper: m.ShopperReference, body: body, header: header})

	// Each notification gets its own pspReference.
	if psp, err = pspReference(); err == nil {
		e.sendTokenWebhook(target, "recurring.token.created", psp, m, "created")
	}
}

// webhookRemoved sends recurring.token.disabled, which Adyen sends when
// stored payment details are deleted.
func (e *Emulator) webhookRemoved(m storedMethod) {
	target := e.target()
	if target == nil {
		return
	}
	psp, err := pspReference()
	if err != nil {
		return
	}
	e.sendTokenWebhook(target, "recurring.token.disabled", psp, m, "")
}

func (e *Emulator) sendTokenWebhook(target *webhookTarget, typ, eventID string, m storedMethod, operation string) {
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
	header := http.Header{"Content-Type": {"application/json"}, "Hmacsignature": {sign(target.key, body)}}
	e.send(target, &outgoing{kind: TokenizationWebhook, event: typ, psp: eventID, shopper: m.ShopperReference, body: body, header: header})
}
