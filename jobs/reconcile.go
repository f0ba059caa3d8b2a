package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/paysync/paysync"
)

const storeTimeout = 10 * time.Second

// Reconciler re-enqueues links left pending: the enqueue failed (Redis down
// at request time), the in-process Redis lost its queue in a restart, or a
// task was archived while its link stayed pending. It is safe to run in
// every worker process: the TaskID makes duplicate enqueues no-ops.
type Reconciler struct {
	Store paysync.Store
	// Notify, when set, adds two duties: provider events stored while Redis
	// was down are queued, and links without a payment method are re-read
	// every RefreshEvery — Braintree sends no "method added" event at all.
	Notify       paysync.NotifyStore
	RefreshEvery time.Duration
	// WebhookMaxRetry is the retry budget of re-queued client deliveries.
	WebhookMaxRetry int
	// Notifier delivers notifications left undelivered (a crash right
	// after the change they announce committed).
	Notifier *Notifier
	Queue    *Queue
	Logger   *slog.Logger
	// Interval between passes; After is how long a link must have been
	// pending before a pass touches it.
	Interval time.Duration
	After    time.Duration
	// Batch caps the links one pass looks at.
	Batch int
}

// Run makes passes until ctx ends. The first pass runs at once and, when
// startedAt is set (a fresh in-process Redis), takes every link pending
// since before it regardless of After.
func (r *Reconciler) Run(ctx context.Context, startedAt time.Time) {
	before := time.Now().Add(-r.After)
	if !startedAt.IsZero() {
		before = startedAt
	}
	for {
		if n, err := r.Pass(ctx, before); err != nil {
			r.Logger.Warn("reconcile pass failed", "err", err)
		} else if n > 0 {
			r.Logger.Info("reconciler re-enqueued pending links", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.Interval):
		}
		before = time.Now().Add(-r.After)
	}
}

// Pass re-enqueues the links pending since before, queues unprocessed
// provider events and due refreshes, and reports how many links needed a
// new sync task.
func (r *Reconciler) Pass(ctx context.Context, before time.Time) (int, error) {
	n, err := r.pendingLinks(ctx, before)
	if err != nil || r.Notify == nil {
		return n, err
	}
	events, err := r.Notify.UnprocessedInbox(ctx, before, r.batch())
	if err != nil {
		return n, err
	}
	for _, id := range events {
		if err := r.Queue.EnqueueInbox(ctx, id); err != nil {
			return n, err
		}
	}
	if r.Notifier != nil {
		notes, err := r.Notify.PendingNotifications(ctx, before, r.batch())
		if err != nil {
			return n, err
		}
		for _, id := range notes {
			if err := r.Notifier.Flush(ctx, id); err != nil {
				return n, err
			}
		}
	}
	deliveries, err := r.Notify.UnsentDeliveries(ctx, before, r.batch())
	if err != nil {
		return n, err
	}
	for _, id := range deliveries {
		if err := r.Queue.EnqueueDelivery(ctx, id, r.WebhookMaxRetry); err != nil {
			return n, err
		}
	}
	if r.RefreshEvery <= 0 {
		return n, nil
	}
	links, err := r.Notify.LinksToRefresh(ctx, time.Now().Add(-r.RefreshEvery), r.batch())
	if err != nil {
		return n, err
	}
	for _, id := range links {
		if err := r.Queue.EnqueueRefresh(ctx, id); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (r *Reconciler) batch() int {
	if r.Batch <= 0 {
		return 500
	}
	return r.Batch
}

func (r *Reconciler) pendingLinks(ctx context.Context, before time.Time) (int, error) {
	refs, err := r.Store.PendingLinks(ctx, before, r.batch())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ref := range refs {
		enqueued, err := r.Queue.Ensure(ctx, ref)
		if err != nil {
			return n, err
		}
		if enqueued {
			n++
		}
	}
	return n, nil
}
