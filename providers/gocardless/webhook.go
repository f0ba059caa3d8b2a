package gocardless

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

// webhookSecretCredential names the webhook endpoint secret in
// conn.Credentials.
const webhookSecretCredential = "webhook_secret"

// signatureHeader carries GoCardless's signature: the hex HMAC-SHA256 of the
// raw body, keyed with the webhook endpoint secret. GoCardless signs no
// timestamp, so a replayed delivery verifies; the inbox deduplicates on the
// event ids, which GoCardless keeps across redeliveries.
const signatureHeader = "Webhook-Signature"

// StatusInvalidToken is what GoCardless documents answering a webhook
// whose signature does not verify with ("498 Invalid Token").
const StatusInvalidToken = 498

var (
	_ paysync.WebhookReceiver       = (*Provider)(nil)
	_ paysync.EventCustomerResolver = (*Provider)(nil)
	_ paysync.SetupLinker           = (*Provider)(nil)
)

// malformedWebhookError is a delivery whose signature verified but whose
// body is not GoCardless's {"events": [...]}.
type malformedWebhookError struct{ reason string }

func (e *malformedWebhookError) Error() string { return "gocardless: malformed webhook: " + e.reason }

// wireEvent is the part of a GoCardless event paysync reads.
type wireEvent struct {
	ID           string         `json:"id"`
	CreatedAt    string         `json:"created_at"`
	ResourceType string         `json:"resource_type"`
	Action       string         `json:"action"`
	Links        map[string]any `json:"links"`
}

// VerifyWebhook implements paysync.WebhookReceiver: the Webhook-Signature
// header must be the hex HMAC-SHA256 of body keyed with the connection's
// webhook secret. GoCardless signs no timestamp, so now is not used.
//
// Each event comes back with Type "<resource_type>.<action>" and ResourceID
// the link named after its resource (links.mandate for a mandate event).
// GoCardless's mandate events name no customer: ProviderCustomerID is set
// only when the event carries links.customer (customer and billing request
// events), and EventCustomer resolves the rest.
func (p *Provider) VerifyWebhook(header http.Header, body []byte, _ time.Time) ([]paysync.WebhookEvent, error) {
	if err := p.verifySignature(header.Get(signatureHeader), body); err != nil {
		return nil, err
	}
	return parseEvents(body)
}

func (p *Provider) verifySignature(header string, body []byte) error {
	if p.webhookSecret == "" {
		return fmt.Errorf("%w: gocardless: the connection has no credentials.%s", paysync.ErrWebhookSignature, webhookSecretCredential)
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return fmt.Errorf("%w: gocardless: no %s header", paysync.ErrWebhookSignature, signatureHeader)
	}
	got, err := hex.DecodeString(header)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: gocardless: %s is not a hex HMAC-SHA256", paysync.ErrWebhookSignature, signatureHeader)
	}
	mac := hmac.New(sha256.New, []byte(p.webhookSecret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: gocardless: %s does not match the body", paysync.ErrWebhookSignature, signatureHeader)
	}
	return nil
}

// parseEvents reads a verified body.
func parseEvents(body []byte) ([]paysync.WebhookEvent, error) {
	var in struct {
		Events *[]wireEvent `json:"events"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &malformedWebhookError{reason: err.Error()}
	}
	if in.Events == nil {
		return nil, &malformedWebhookError{reason: `no "events"`}
	}
	out := make([]paysync.WebhookEvent, 0, len(*in.Events))
	for i, w := range *in.Events {
		if w.ID == "" || w.ResourceType == "" || w.Action == "" {
			return nil, &malformedWebhookError{reason: fmt.Sprintf("event %d lacks id, resource_type or action", i)}
		}
		at, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
		if err != nil {
			return nil, &malformedWebhookError{reason: fmt.Sprintf("event %s: created_at: %v", w.ID, err)}
		}
		out = append(out, paysync.WebhookEvent{
			ID:                 w.ID,
			Type:               w.ResourceType + "." + w.Action,
			ProviderCustomerID: link(w.Links, "customer"),
			// The link to the event's own resource is named in the
			// singular: mandates -> links.mandate.
			ResourceID: link(w.Links, strings.TrimSuffix(w.ResourceType, "s")),
			OccurredAt: at,
		})
	}
	return out, nil
}

func link(links map[string]any, name string) string {
	s, _ := links[name].(string)
	return s
}

// WebhookAnswer implements paysync.WebhookReceiver: 200 with an empty body
// for an accepted delivery; 498 Invalid Token for a signature failure, as
// GoCardless documents; 400 for a signed body that cannot be read; 500 for
// anything else (paysync could not take it in), so that GoCardless retries.
func (p *Provider) WebhookAnswer(err error) (int, string) {
	var malformed *malformedWebhookError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.Is(err, paysync.ErrWebhookSignature):
		return StatusInvalidToken, "Invalid Token"
	case errors.As(err, &malformed):
		return http.StatusBadRequest, "Bad Request"
	default:
		return http.StatusInternalServerError, "Internal Server Error"
	}
}

// EventCustomer implements paysync.EventCustomerResolver. An event that
// names its customer needs no call; a mandate event is resolved by reading
// the mandate (GET /mandates/{id}) for its links.customer. Events about
// other resources (payments, payouts, ...) concern no customer's payment
// methods: they resolve to "" and no error.
func (p *Provider) EventCustomer(ctx context.Context, ev paysync.WebhookEvent) (string, error) {
	if ev.ProviderCustomerID != "" {
		return ev.ProviderCustomerID, nil
	}
	if !strings.HasPrefix(ev.Type, "mandates.") {
		return "", nil
	}
	if ev.ResourceID == "" {
		return "", &paysync.ProviderError{Provider: paysync.GoCardless, Code: "invalid_event",
			Message: "mandate event " + ev.ID + " names no mandate"}
	}
	m, err := p.api.getMandate(ctx, ev.ResourceID)
	if err != nil {
		return "", err
	}
	if m.Links.Customer == "" {
		return "", p.api.invalid(http.StatusOK, "mandate without links.customer")
	}
	return m.Links.Customer, nil
}
