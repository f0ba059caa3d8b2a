package paysync

import (
	"context"
	"time"
)

// Client webhooks out: the outbox. A change records a Notification in its
// own transaction; the notification becomes one Delivery per
// WebhookEndpoint of the organization, which a job sends.

// Client webhook types, as Lago names them.
const (
	EventPaymentProviderCreated = "customer.payment_provider_created"
	EventPaymentProviderError   = "customer.payment_provider_error"
	EventCheckoutURLGenerated   = "customer.checkout_url_generated"
	// EventPaymentMethodUpdated is paysync's own: has_payment_method flipped.
	EventPaymentMethodUpdated = "customer.payment_method_updated"
)

// Notifier sends client webhooks about a customer to its organization's
// endpoints. checkoutURL is set for EventCheckoutURLGenerated only.
type Notifier interface {
	Notify(ctx context.Context, c *Customer, webhookType, checkoutURL string) error
}

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

// NotificationStore keeps the notifications; package store implements it
// next to Store, as it does every store of the outbox.
type NotificationStore interface {
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

// EndpointStore keeps the organizations' webhook endpoints and the key
// that signs what is sent to them.
type EndpointStore interface {
	AddWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	WebhookEndpoints(ctx context.Context, orgID string) ([]*WebhookEndpoint, error)
	WebhookEndpoint(ctx context.Context, orgID, id string) (*WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, orgID, id string) error
	// UpdateWebhookEndpoint stores e's url, signature_algo, name and event types.
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// WebhookHMACKey returns the organization's key for X-Lago-Signature,
	// creating it (a random UUID, as Lago does) on first use.
	WebhookHMACKey(ctx context.Context, orgID string) (string, error)
	// SetWebhookHMACKey replaces it (configured keys).
	SetWebhookHMACKey(ctx context.Context, orgID, key string) error
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

// DeliveryStore keeps the deliveries and the outcome of their attempts.
type DeliveryStore interface {
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
