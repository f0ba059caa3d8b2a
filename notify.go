package paysync

import (
	"context"
	"time"
)

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

// Client webhook types, as Lago names them.
const (
	EventPaymentProviderCreated = "customer.payment_provider_created"
	EventPaymentProviderError   = "customer.payment_provider_error"
	EventCheckoutURLGenerated   = "customer.checkout_url_generated"
	// EventPaymentMethodUpdated is paysync's own: has_payment_method flipped.
	EventPaymentMethodUpdated = "customer.payment_method_updated"
)

// Notification is a client webhook decided in the same transaction as the
// change it announces: the outbox of client webhooks. Deliveries, one per
// endpoint, are made from it afterwards; a crash in between loses nothing.
type Notification struct {
	ID             string
	OrganizationID string
	CustomerID     string
	WebhookType    string
	CheckoutURL    string // for EventCheckoutURLGenerated
	CreatedAt      time.Time
	ProcessedAt    *time.Time
}

// WebhookEndpoint is where an organization receives client webhooks.
type WebhookEndpoint struct {
	ID             string
	OrganizationID string
	URL            string
	SignatureAlgo  string // SignatureJWT or SignatureHMAC
	Name           string
	// EventTypes are the webhook types the endpoint receives; none means every type.
	EventTypes []string
	CreatedAt  time.Time
}

// Delivery is one client webhook to one endpoint. Its body is stored in the
// database and the task payload names only the delivery id, so that no
// personal data reaches Redis.
type Delivery struct {
	ID             string // also X-Lago-Unique-Key: the same for every attempt
	OrganizationID string
	EndpointID     string
	URL            string
	WebhookType    string
	Body           []byte
	Attempts       int
	LastStatus     int
	LastError      string
	DeliveredAt    *time.Time
	CreatedAt      time.Time
}

// NotifyStore is the persistence of provider webhooks in and client
// webhooks out; package store implements it next to Store.
type NotifyStore interface {
	// AddInboxEvents stores events, skipping any whose (organization,
	// provider, connection, event id) is already there, and returns the new
	// ones with their ids.
	AddInboxEvents(ctx context.Context, events []InboxEvent) ([]InboxEvent, error)
	InboxEvent(ctx context.Context, id string) (*InboxEvent, error)
	MarkInboxProcessed(ctx context.Context, id string) error
	// UnprocessedInbox lists events received before the given time and not yet processed.
	UnprocessedInbox(ctx context.Context, before time.Time, limit int) ([]string, error)

	// CustomerByProviderID finds the customer linked to a provider customer
	// on one connection, with its link.
	CustomerByProviderID(ctx context.Context, orgID string, kind ProviderKind, code, providerCustomerID string) (*Customer, error)
	// RecordPaymentMethod stores what a refresh read at checkedAt about
	// providerCustomerID, unless a refresh that read later already stored
	// its answer or the link no longer is a synced link to that customer;
	// it reports whether has_payment_method changed, and records a
	// customer.payment_method_updated Notification with the change.
	RecordPaymentMethod(ctx context.Context, linkID, providerCustomerID string, has bool, checkedAt time.Time) (changed bool, err error)
	// LinksToRefresh lists synced links without a payment method whose last
	// check is older than checkedBefore (or that were never checked), oldest first.
	LinksToRefresh(ctx context.Context, checkedBefore time.Time, limit int) ([]string, error)

	// AddNotification records a notification that changes no other state.
	AddNotification(ctx context.Context, n *Notification) error
	Notification(ctx context.Context, id string) (*Notification, error)
	// PendingNotifications lists unprocessed notifications created before
	// the given time, oldest first; CustomerNotifications those of one customer.
	PendingNotifications(ctx context.Context, before time.Time, limit int) ([]string, error)
	CustomerNotifications(ctx context.Context, customerID string) ([]string, error)
	// DeliverNotification stores the deliveries made from a notification
	// and marks it processed, in one transaction; it reports false, storing
	// nothing, when the notification was processed already.
	DeliverNotification(ctx context.Context, id string, ds []*Delivery) (bool, error)

	AddWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	WebhookEndpoints(ctx context.Context, orgID string) ([]*WebhookEndpoint, error)
	WebhookEndpoint(ctx context.Context, orgID, id string) (*WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, orgID, id string) error
	// UpdateWebhookEndpoint stores e's url, name, signature algorithm and
	// event types; an endpoint of another organization is not found.
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// WebhookHMACKey returns the organization's key for X-Lago-Signature,
	// creating it (a random UUID, as Lago does) on first use.
	WebhookHMACKey(ctx context.Context, orgID string) (string, error)
	// SetWebhookHMACKey replaces it (configured keys).
	SetWebhookHMACKey(ctx context.Context, orgID, key string) error

	AddDeliveries(ctx context.Context, ds []*Delivery) error
	Delivery(ctx context.Context, id string) (*Delivery, error)
	// RecordDeliveryAttempt counts one attempt and its outcome.
	RecordDeliveryAttempt(ctx context.Context, id string, status int, errText string, delivered bool) error
	// UnsentDeliveries lists deliveries created before the given time that
	// no attempt has reached: their enqueue failed (Redis down).
	UnsentDeliveries(ctx context.Context, before time.Time, limit int) ([]string, error)
	// Deliveries lists an organization's latest deliveries, newest first.
	Deliveries(ctx context.Context, orgID string, limit int) ([]*Delivery, error)
}
