package paysync

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Provider webhooks in: the inbox. A verified event is stored first and
// only tells a job which customer to re-read at the provider.

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

// InboxEvent is a verified provider webhook event, stored before the
// provider is answered so that nothing acknowledged can be lost.
type InboxEvent struct {
	ID                 string
	OrganizationID     string
	Provider           ProviderKind
	ConnectionCode     string
	EventID            string // the provider's; unique per connection
	Type               string
	ProviderCustomerID string
	ResourceID         string
	ReceivedAt         time.Time
	ProcessedAt        *time.Time
}

// InboxStore keeps the inbox of provider events; package store implements
// it next to Store.
type InboxStore interface {
	// AddInboxEvents stores events, skipping any whose (organization,
	// provider, connection, event id) is already there, and returns the new
	// ones with their ids.
	AddInboxEvents(ctx context.Context, events []InboxEvent) ([]InboxEvent, error)
	InboxEvent(ctx context.Context, id string) (*InboxEvent, error)
	MarkInboxProcessed(ctx context.Context, id string) error
	// UnprocessedInbox lists events received before the given time and not yet processed.
	UnprocessedInbox(ctx context.Context, before time.Time, limit int) ([]string, error)
}
