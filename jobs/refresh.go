package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// Refresher keeps has_payment_method true to the provider. A provider
// webhook only says which customer to look at: the state itself is always
// re-read from the provider, so forged, replayed or out-of-order events
// cannot make paysync disagree with the provider.
type Refresher struct {
	Store       paysync.Store
	Notify      paysync.NotifyStore
	Connections paysync.Connections
	Notifier    *Notifier
	Logger      *slog.Logger
}

// EnqueueInbox queues the processing of one stored provider event.
func (q *Queue) EnqueueInbox(ctx context.Context, id string) error {
	return q.enqueueID(ctx, TypeInbox, id, asynq.MaxRetry(q.Options.MaxRetry))
}

// EnqueueRefresh queues a scheduled re-read of one link. The task is
// dropped on completion so that the next schedule can queue it again.
func (q *Queue) EnqueueRefresh(ctx context.Context, linkID string) error {
	return q.enqueueID(ctx, TypeRefresh, linkID, asynq.MaxRetry(3))
}

// EnqueueSetupLink queues the setup link of a freshly created provider customer.
func (q *Queue) EnqueueSetupLink(ctx context.Context, ref paysync.LinkRef) error {
	return q.enqueueID(ctx, TypeSetupLink, fmt.Sprintf("%s:%d", ref.ID, ref.Generation), asynq.MaxRetry(q.Options.MaxRetry))
}

// ProcessInbox implements asynq.Handler for TypeInbox.
func (r *Refresher) ProcessInbox(ctx context.Context, t *asynq.Task) error {
	id, err := parseID(t)
	if err != nil {
		return err
	}
	ev, err := r.Notify.InboxEvent(ctx, id)
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
	if merr := r.Notify.MarkInboxProcessed(ctx, id); merr != nil {
		return merr
	}
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
		customerID, err = resolver.EventCustomer(ctx, paysync.WebhookEvent{ID: ev.EventID, Type: ev.Type, ResourceID: ev.ResourceID})
		if err != nil {
			return skipPermanent(ev.Provider, err)
		}
	}
	if customerID == "" {
		return nil // not about a customer paysync mirrors
	}
	c, err := r.Notify.CustomerByProviderID(ctx, ev.OrganizationID, ev.Provider, ev.ConnectionCode, customerID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil // a customer paysync does not know: acknowledged and ignored
	}
	if err != nil {
		return err
	}
	return r.refresh(ctx, c)
}

// ProcessRefresh implements asynq.Handler for TypeRefresh.
func (r *Refresher) ProcessRefresh(ctx context.Context, t *asynq.Task) error {
	linkID, err := parseID(t)
	if err != nil {
		return err
	}
	c, err := r.Store.LinkCustomer(ctx, linkID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	return r.refresh(ctx, c)
}

// refresh re-reads the customer's payment methods and stores them, unless
// a later read has already been stored; a flip is announced to the client.
func (r *Refresher) refresh(ctx context.Context, c *paysync.Customer) error {
	l := c.Link
	if l == nil || l.State != paysync.SyncSynced || l.ProviderCustomerID == "" {
		return nil
	}
	p, err := r.Connections.Provider(c.OrganizationID, l.Provider, l.ConnectionCode)
	if err != nil {
		return nil
	}
	checkedAt := time.Now()
	st, err := p.CustomerStatus(ctx, l.ProviderCustomerID)
	if err != nil {
		pe := paysync.AsProviderError(l.Provider, err)
		if pe.Code != paysync.CodeCustomerNotFound {
			// Count the failed check all the same, so that a provider
			// that keeps failing cannot hold the schedule's head for the
			// links behind it; the next check comes with the schedule.
			if _, rerr := r.Notify.RecordPaymentMethod(ctx, l.ID, l.ProviderCustomerID, l.HasPaymentMethod, checkedAt); rerr != nil {
				return rerr
			}
			return skipPermanent(l.Provider, err)
		}
		st = paysync.CustomerStatus{} // deleted at the provider: nothing to charge
	}
	changed, err := r.Notify.RecordPaymentMethod(ctx, l.ID, l.ProviderCustomerID, st.HasPaymentMethod, checkedAt)
	if err != nil || !changed || r.Notifier == nil {
		return err
	}
	// The flip was recorded with its notification; deliver it now, or the
	// reconciler will.
	if err := r.Notifier.FlushCustomer(ctx, c.ID); err != nil {
		r.Logger.Warn("client webhook not delivered yet; the reconciler will", "customer_id", c.ID, "err", err)
	}
	return nil
}

// skipPermanent marks permanent provider errors so that asynq archives
// the task instead of retrying it.
func skipPermanent(kind paysync.ProviderKind, err error) error {
	if paysync.IsRetryable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", paysync.AsProviderError(kind, err), asynq.SkipRetry)
}

// SetupLinks generates the setup link of a freshly created provider
// customer when its connection asks for it.
type SetupLinks struct {
	Store   paysync.Store
	Service *paysync.Service
}

// ProcessTask implements asynq.Handler for TypeSetupLink.
func (s *SetupLinks) ProcessTask(ctx context.Context, t *asynq.Task) error {
	id, err := parseID(t)
	if err != nil {
		return err
	}
	linkID, _, _ := strings.Cut(id, ":")
	c, err := s.Store.LinkCustomer(ctx, linkID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	_, _, err = s.Service.CheckoutURL(ctx, c.OrganizationID, c.ExternalID)
	switch paysync.ErrorCode(err) {
	case "":
		return nil
	case paysync.EUNAVAILABLE, paysync.EINTERNAL:
		return err
	default:
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
}
