package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/metrics"
)

// TypeInbox processes one stored provider webhook event.
const TypeInbox = "webhook:inbox"

// NewInboxTask builds the task that processes the inbox event id.
func NewInboxTask(id string, o Options) *asynq.Task {
	return newIDTask(TypeInbox, id, o, asynq.MaxRetry(o.MaxRetry))
}

// ProcessInbox implements asynq.Handler for TypeInbox.
func (r *Refresher) ProcessInbox(ctx context.Context, t *asynq.Task) error {
	id, err := parseID(t)
	if err != nil {
		return err
	}
	ev, err := r.Inbox.InboxEvent(ctx, id)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	}
	if err != nil || ev.ProcessedAt != nil {
		return err
	}
	err = r.processEvent(ctx, ev)
	retry, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	if err != nil && paysync.IsRetryable(err) && !(ok1 && ok2 && retry >= maxRetry) {
		return err
	}
	// Done, or given up: either way the event leaves the inbox, so that
	// events that cannot be processed never pile up ahead of the others.
	// A failure stays visible as the archived task.
	if merr := r.Inbox.MarkInboxProcessed(ctx, id); merr != nil {
		return merr
	}
	// Receipt to processed, retries included: what a backed-up inbox costs.
	metrics.InboxLag.Observe(time.Since(ev.ReceivedAt).Seconds())
	return err
}

func (r *Refresher) processEvent(ctx context.Context, ev *paysync.InboxEvent) error {
	customerID := ev.ProviderCustomerID
	if customerID == "" && ev.ResourceID != "" {
		p, err := r.Connections.Provider(ev.OrganizationID, ev.Provider, ev.ConnectionCode)
		if err != nil {
			return nil // the connection is gone: nothing to refresh
		}
		resolver, ok := p.(paysync.EventCustomerResolver)
		if !ok {
			return nil
		}
		customerID, err = resolver.EventCustomer(paysync.WithOperation(ctx, OpEventCustomer), paysync.WebhookEvent{ID: ev.EventID, Type: ev.Type, ResourceID: ev.ResourceID})
		if err != nil {
			return skipPermanent(ev.Provider, err)
		}
	}
	if customerID == "" {
		return nil // not about a customer paysync mirrors
	}
	c, err := r.PaymentMethods.CustomerByProviderID(ctx, ev.OrganizationID, ev.Provider, ev.ConnectionCode, customerID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil // a customer paysync does not know: acknowledged and ignored
	}
	if err != nil {
		return err
	}
	return r.refresh(ctx, c)
}
