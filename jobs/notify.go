package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// Task types of the webhook work.
const (
	// TypeDeliver sends one client webhook delivery.
	TypeDeliver = "webhook:deliver"
	// TypeInbox processes one stored provider webhook event.
	TypeInbox = "webhook:inbox"
	// TypeRefresh re-reads one link's payment methods at the provider.
	TypeRefresh = "customer:refresh"
	// TypeSetupLink generates a setup link for a freshly created provider customer.
	TypeSetupLink = "customer:setup_link"
)

type idPayload struct {
	ID string `json:"id"`
}

func parseID(t *asynq.Task) (string, error) {
	var p idPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID == "" {
		return "", fmt.Errorf("%s task payload %q: %v: %w", t.Type(), t.Payload(), err, asynq.SkipRetry)
	}
	return p.ID, nil
}

// enqueueID queues a task whose payload is one id and whose TaskID keeps a
// second one out while the first exists.
func (q *Queue) enqueueID(ctx context.Context, typ, id string, opts ...asynq.Option) error {
	payload, err := json.Marshal(idPayload{ID: id})
	if err != nil {
		return err
	}
	opts = append([]asynq.Option{asynq.TaskID(typ + ":" + id), asynq.Queue(q.Options.queue()), asynq.Timeout(taskTimeout)}, opts...)
	_, err = q.Client.EnqueueContext(ctx, asynq.NewTask(typ, payload), opts...)
	if err != nil && !isConflict(err) {
		return err
	}
	return nil
}

// Notifier turns notifications (the outbox rows written with the changes
// they announce) into deliveries, one per endpoint of the organization, and
// queues each by id; the body stays in the database.
type Notifier struct {
	Store  paysync.Store
	Outbox paysync.NotifyStore
	Queue  *Queue
	// Render is the customer object client webhooks carry: Lago's customer.
	Render func(*paysync.Customer) any
	// MaxRetry bounds the attempts at one endpoint before the delivery is
	// archived (visible, and retryable by hand, in asynqmon).
	MaxRetry int
}

var _ paysync.Notifier = (*Notifier)(nil)

// Notify implements paysync.Notifier for announcements that change no
// other state (a checkout URL): record the notification, then deliver it.
func (n *Notifier) Notify(ctx context.Context, c *paysync.Customer, webhookType, checkoutURL string) error {
	note := &paysync.Notification{OrganizationID: c.OrganizationID, CustomerID: c.ID, WebhookType: webhookType, CheckoutURL: checkoutURL}
	if err := n.Outbox.AddNotification(ctx, note); err != nil {
		return err
	}
	return n.Flush(ctx, note.ID)
}

// FlushCustomer delivers the customer's pending notifications.
func (n *Notifier) FlushCustomer(ctx context.Context, customerID string) error {
	ids, err := n.Outbox.CustomerNotifications(ctx, customerID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := n.Flush(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Flush makes the deliveries of one notification, in Lago's envelope and
// with the customer as it is now, and queues them. A notification already
// flushed (by another process, or before a crash) is left alone.
func (n *Notifier) Flush(ctx context.Context, id string) error {
	note, err := n.Outbox.Notification(ctx, id)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	}
	if err != nil || note.ProcessedAt != nil {
		return err
	}
	ds, err := n.deliveries(ctx, note)
	if err != nil {
		return err
	}
	fresh, err := n.Outbox.DeliverNotification(ctx, id, ds)
	if err != nil || !fresh {
		return err
	}
	var firstErr error
	for _, d := range ds {
		// One failed enqueue does not keep the others back; whatever is
		// stored and not queued, the reconciler queues later.
		if err := n.Queue.EnqueueDelivery(ctx, d.ID, n.MaxRetry); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// deliveries renders one notification for each of the organization's
// endpoints; none when it has none, or the customer is gone.
func (n *Notifier) deliveries(ctx context.Context, note *paysync.Notification) ([]*paysync.Delivery, error) {
	endpoints, err := n.Outbox.WebhookEndpoints(ctx, note.OrganizationID)
	if err != nil || len(endpoints) == 0 {
		return nil, err
	}
	c, err := n.Store.Customer(ctx, note.OrganizationID, paysync.CustomerKey{ID: note.CustomerID})
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	objectType, object := "customer", n.Render(c)
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

// EnqueueDelivery queues one delivery.
func (q *Queue) EnqueueDelivery(ctx context.Context, id string, maxRetry int) error {
	return q.enqueueID(ctx, TypeDeliver, id, asynq.MaxRetry(maxRetry), asynq.Retention(q.Options.Retention))
}

// Deliverer sends client webhooks signed as Lago signs them, so that an
// existing Lago webhook consumer verifies them unchanged.
type Deliverer struct {
	Store  paysync.NotifyStore
	Client *http.Client
	// Keys and Issuer sign JWT deliveries (Issuer: the iss claim, paysync's public URL).
	Keys   paysync.WebhookKeyStore
	Issuer string
}

// ProcessTask implements asynq.Handler for TypeDeliver.
func (d *Deliverer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	id, err := parseID(t)
	if err != nil {
		return err
	}
	del, err := d.Store.Delivery(ctx, id)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	}
	if err != nil || del.DeliveredAt != nil {
		return err
	}
	// An endpoint the organization removed gets nothing more.
	e, err := d.Store.WebhookEndpoint(ctx, del.OrganizationID, del.EndpointID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	sig, err := d.signature(ctx, e, del)
	if err != nil {
		return err
	}
	status, sendErr := d.send(ctx, del, sig)
	errText := ""
	if sendErr != nil {
		errText = sendErr.Error()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := d.Store.RecordDeliveryAttempt(rctx, id, status, errText, sendErr == nil); err != nil {
		return err
	}
	return sendErr
}

func (d *Deliverer) send(ctx context.Context, del *paysync.Delivery, sig signature) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.URL, strings.NewReader(string(del.Body)))
	if err != nil {
		return 0, fmt.Errorf("webhook url: %w: %w", err, asynq.SkipRetry)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paysync")
	req.Header.Set("X-Lago-Signature", sig.value)
	req.Header.Set("X-Lago-Signature-Algorithm", sig.algo)
	req.Header.Set("X-Lago-Unique-Key", del.ID)
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook endpoint unreachable: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook endpoint answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// Sign is Lago's HMAC webhook signature: base64(HMAC-SHA256(key, body)).
func Sign(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// deliveryTimeout bounds one attempt at a client endpoint.
const deliveryTimeout = 10 * time.Second

// NewDeliveryClient is the HTTP client for client webhooks. It does not
// follow redirects: a signed body goes to the registered URL only.
func NewDeliveryClient() *http.Client {
	return &http.Client{Timeout: deliveryTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
