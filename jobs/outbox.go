package jobs

import (
	"context"
	"encoding/json"
	"time"

	"github.com/paysync/paysync"
)

// Outbox turns notifications (the outbox rows written with the changes
// they announce) into deliveries, one per endpoint of the organization, and
// queues each by id; the body stays in the database.
type Outbox struct {
	Store         paysync.Store
	Notifications paysync.NotificationStore
	Endpoints     paysync.EndpointStore
	Queue         *Queue
	// Render is the customer object client webhooks carry: Lago's customer.
	Render func(*paysync.Customer) any
	// MaxRetry bounds the attempts at one endpoint before the delivery is
	// archived (visible, and retryable by hand, in asynqmon).
	MaxRetry int
}

var _ paysync.Notifier = (*Outbox)(nil)

// Notify implements paysync.Notifier for announcements that change no
// other state (a checkout URL): record the notification, then deliver it.
func (o *Outbox) Notify(ctx context.Context, c *paysync.Customer, webhookType, checkoutURL string) error {
	note := &paysync.Notification{OrganizationID: c.OrganizationID, CustomerID: c.ID, WebhookType: webhookType, CheckoutURL: checkoutURL}
	if err := o.Notifications.AddNotification(ctx, note); err != nil {
		return err
	}
	return o.Flush(ctx, note.ID)
}

// FlushCustomer delivers the customer's pending notifications.
func (o *Outbox) FlushCustomer(ctx context.Context, customerID string) error {
	ids, err := o.Notifications.CustomerNotifications(ctx, customerID)
	if err != nil {
		return err
	}
	return o.flushAll(ctx, ids)
}

// FlushPending delivers up to limit notifications created before the
// given time and still pending: a crash came right after the change they
// announce committed. It reports how many it found.
func (o *Outbox) FlushPending(ctx context.Context, before time.Time, limit int) (int, error) {
	ids, err := o.Notifications.PendingNotifications(ctx, before, limit)
	if err != nil {
		return 0, err
	}
	return len(ids), o.flushAll(ctx, ids)
}

func (o *Outbox) flushAll(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if err := o.Flush(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Flush makes the deliveries of one notification, in Lago's envelope and
// with the customer as it is now, and queues them. A notification already
// flushed (by another process, or before a crash) is left alone.
func (o *Outbox) Flush(ctx context.Context, id string) error {
	note, err := o.Notifications.Notification(ctx, id)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	}
	if err != nil || note.ProcessedAt != nil {
		return err
	}
	ds, err := o.deliveries(ctx, note)
	if err != nil {
		return err
	}
	fresh, err := o.Notifications.DeliverNotification(ctx, id, ds)
	if err != nil || !fresh {
		return err
	}
	var firstErr error
	for _, d := range ds {
		// One failed enqueue does not keep the others back; whatever is
		// stored and not queued, the reconciler queues later.
		if err := o.Queue.EnqueueDelivery(ctx, d.ID, o.MaxRetry); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// deliveries renders one notification for each of the organization's
// endpoints; none when it has none, or the customer is gone.
func (o *Outbox) deliveries(ctx context.Context, note *paysync.Notification) ([]*paysync.Delivery, error) {
	endpoints, err := o.Endpoints.WebhookEndpoints(ctx, note.OrganizationID)
	if err != nil || len(endpoints) == 0 {
		return nil, err
	}
	c, err := o.Store.Customer(ctx, note.OrganizationID, paysync.CustomerKey{ID: note.CustomerID})
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	objectType, object := "customer", o.Render(c)
	if l := c.Link; l != nil {
		ref := map[string]any{
			"lago_customer_id": c.ID, "external_customer_id": c.ExternalID,
			"payment_provider": l.Provider, "payment_provider_code": l.ConnectionCode,
		}
		switch note.WebhookType {
		case paysync.EventPaymentProviderError:
			objectType, object = "payment_provider_customer_error", ref
			ref["provider_error"] = providerError(l.LastError)
		case paysync.EventCheckoutURLGenerated:
			objectType, object = "payment_provider_customer_checkout_url", ref
			ref["checkout_url"] = note.CheckoutURL
		}
	}
	body, err := json.Marshal(map[string]any{
		"webhook_type": note.WebhookType, "object_type": objectType,
		"organization_id": c.OrganizationID, objectType: object,
	})
	if err != nil {
		return nil, err
	}
	ds := make([]*paysync.Delivery, 0, len(endpoints))
	for _, e := range endpoints {
		if !e.Subscribed(note.WebhookType) {
			continue
		}
		ds = append(ds, &paysync.Delivery{OrganizationID: c.OrganizationID, EndpointID: e.ID, URL: e.URL, WebhookType: note.WebhookType, Body: body})
	}
	return ds, nil
}

func providerError(pe *paysync.ProviderError) map[string]any {
	if pe == nil {
		return nil
	}
	return map[string]any{"error_code": pe.Code, "message": pe.Message, "http_status": pe.HTTPStatus}
}
