package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// TypeRefresh re-reads one link's payment methods at the provider.
const TypeRefresh = "customer:refresh"

// NewRefreshTask builds the scheduled re-read of the link linkID.
func NewRefreshTask(linkID string, o Options) *asynq.Task {
	return newIDTask(TypeRefresh, linkID, o, asynq.MaxRetry(3))
}

// Refresher keeps has_payment_method true to the provider. A provider
// webhook only says which customer to look at: the state itself is always
// re-read from the provider, so forged, replayed or out-of-order events
// cannot make paysync disagree with the provider. It handles TypeRefresh
// and TypeInbox (inbox.go).
type Refresher struct {
	Store          paysync.Store
	Inbox          paysync.InboxStore
	PaymentMethods paysync.PaymentMethodStore
	Connections    paysync.Connections
	Outbox         *Outbox
	Logger         *slog.Logger
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
	st, err := p.CustomerStatus(paysync.WithOperation(ctx, OpCustomerStatus), l.ProviderCustomerID)
	if err != nil {
		pe := paysync.AsProviderError(l.Provider, err)
		if pe.Code != paysync.CodeCustomerNotFound {
			// Count the failed check all the same, so that a provider
			// that keeps failing cannot hold the schedule's head for the
			// links behind it; the next check comes with the schedule.
			if _, rerr := r.PaymentMethods.RecordPaymentMethod(ctx, l.ID, l.ProviderCustomerID, l.HasPaymentMethod, checkedAt); rerr != nil {
				return rerr
			}
			return skipPermanent(l.Provider, err)
		}
		st = paysync.CustomerStatus{} // deleted at the provider: nothing to charge
	}
	changed, err := r.PaymentMethods.RecordPaymentMethod(ctx, l.ID, l.ProviderCustomerID, st.HasPaymentMethod, checkedAt)
	if err != nil || !changed || r.Outbox == nil {
		return err
	}
	// The flip was recorded with its notification; deliver it now, or the
	// reconciler will.
	if err := r.Outbox.FlushCustomer(ctx, c.ID); err != nil {
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
