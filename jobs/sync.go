package jobs

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// Syncer creates or links one customer at its provider and stores the
// outcome. It implements paysync.Syncer (inline runs) and asynq.Handler
// (background runs); both run the same code.
type Syncer struct {
	Store       paysync.Store
	Connections paysync.Connections
}

var _ paysync.Syncer = (*Syncer)(nil)

// Sync implements paysync.Syncer for inline runs: a retryable failure leaves
// the link pending for the background job.
func (s *Syncer) Sync(ctx context.Context, ref paysync.LinkRef) error {
	return s.attempt(ctx, ref, false)
}

// ProcessTask implements asynq.Handler. Permanent failures skip the
// remaining retries; the last retry marks the link failed.
func (s *Syncer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	ref, err := parseSyncPayload(t)
	if err != nil {
		return err
	}
	retry, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	err = s.attempt(ctx, ref, ok1 && ok2 && retry >= maxRetry)
	if err != nil && !paysync.IsRetryable(err) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// attempt is one try at the link's current generation. It is idempotent:
// the provider call carries the generation's idempotency key, and a link
// that moved on (synced, superseded, deleted) is left alone.
func (s *Syncer) attempt(ctx context.Context, ref paysync.LinkRef, final bool) error {
	c, err := s.Store.LinkCustomer(ctx, ref.ID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil // the customer was deleted
	}
	if err != nil {
		return err // a store error: retry
	}
	l := c.Link
	// A failed link of the same generation is retried too: that is an
	// operator pressing "run" on the archived task in asynqmon.
	if l.Generation != ref.Generation || l.State == paysync.SyncSynced || l.State == paysync.SyncNone {
		return nil
	}
	p, err := s.Connections.Provider(c.OrganizationID, l.Provider, l.ConnectionCode)
	if err != nil {
		pe := &paysync.ProviderError{Provider: l.Provider, Code: "connection_not_found", Message: err.Error()}
		return s.record(ctx, ref, paysync.SyncResult{State: paysync.SyncFailed, Error: pe}, pe)
	}
	id := l.ProviderCustomerID
	if !l.LinkOnly {
		id, err = p.CreateCustomer(ctx, paysync.CreateCustomerRequest{Customer: c, Link: l, IdempotencyKey: l.IdempotencyKey()})
	}
	var status paysync.CustomerStatus
	if err == nil {
		status, err = p.CustomerStatus(ctx, id)
	}
	if err != nil {
		pe := paysync.AsProviderError(l.Provider, err)
		state := paysync.SyncPending
		if !pe.Retryable || final {
			state = paysync.SyncFailed
		}
		return s.record(ctx, ref, paysync.SyncResult{State: state, ProviderCustomerID: id, Error: pe}, pe)
	}
	return s.record(ctx, ref, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: id, HasPaymentMethod: status.HasPaymentMethod}, nil)
}

// record stores the outcome; a store failure is retryable, so the provider
// work is repeated (idempotently) rather than lost.
func (s *Syncer) record(ctx context.Context, ref paysync.LinkRef, r paysync.SyncResult, pe *paysync.ProviderError) error {
	// The outcome must be stored even when the attempt's deadline is what
	// failed it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if _, err := s.Store.RecordSync(ctx, ref, r); err != nil {
		return fmt.Errorf("record sync of link %s: %w", ref.ID, err)
	}
	if pe != nil {
		return pe
	}
	return nil
}
