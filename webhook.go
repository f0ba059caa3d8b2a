package paysync

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// WebhookEvent is one provider notification whose signature was verified.
type WebhookEvent struct {
	// ID is the provider's event id; the inbox deduplicates on it, so a
	// replayed delivery changes nothing.
	ID   string
	Type string
	// ProviderCustomerID names the customer whose payment methods may have
	// changed; empty when the event names another resource (ResourceID).
	ProviderCustomerID string
	// ResourceID is the object the event is about (a mandate, a payment
	// method, a payment link).
	ResourceID string
	OccurredAt time.Time
}

// ErrWebhookSignature is wrapped by every signature failure: forged,
// stale, missing or made with another secret.
var ErrWebhookSignature = errors.New("webhook signature verification failed")

// WebhookReceiver is implemented by adapters whose provider sends webhooks.
// Events are never trusted for state: paysync only learns from them which
// customer to re-read at the provider.
type WebhookReceiver interface {
	// VerifyWebhook checks the delivery's signature with the connection's
	// secret and returns the events it carries, without any network call.
	// A bad signature returns an error wrapping ErrWebhookSignature.
	VerifyWebhook(header http.Header, body []byte, now time.Time) ([]WebhookEvent, error)
	// WebhookAnswer is the status and body the provider expects back for
	// an accepted delivery (err == nil) or a rejected one.
	WebhookAnswer(err error) (status int, body string)
}

// EventCustomerResolver is implemented by adapters whose events name a
// resource rather than the customer (a GoCardless mandate): the refresh
// job asks the provider which customer it belongs to.
type EventCustomerResolver interface {
	EventCustomer(ctx context.Context, ev WebhookEvent) (providerCustomerID string, err error)
}

// SetupLinker is implemented by adapters whose provider hosts a page where
// the end customer adds a payment method (Stripe Checkout in setup mode,
// an Adyen payment link, a GoCardless billing request flow).
type SetupLinker interface {
	SetupLink(ctx context.Context, c *Customer, providerCustomerID, returnURL, idempotencyKey string) (string, error)
}
