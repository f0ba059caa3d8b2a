package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/metrics"
)

// Reconciler re-enqueues links left pending: the enqueue failed (Redis down
// at request time), the in-process Redis lost its queue in a restart, or a
// task was archived while its link stayed pending. It is safe to run in
// every worker process: the TaskID makes duplicate enqueues no-ops.
type Reconciler struct {
	Store paysync.Store
	// Inbox, when set, adds the duty of queueing provider events stored
	// while Redis was down.
	Inbox paysync.InboxStore
	// Outbox, when set, delivers notifications left undelivered (a crash
	// right after the change they announce committed).
	Outbox *Outbox
	// Deliveries, when set, adds the duty of queueing client deliveries
	// whose enqueue failed; WebhookMaxRetry is their retry budget.
	Deliveries      paysync.DeliveryStore
	WebhookMaxRetry int
	// PaymentMethods, when set with RefreshEvery, adds the re-read of links
	// without a payment method every RefreshEvery: Braintree sends no
	// "method added" event at all.
	PaymentMethods paysync.PaymentMethodStore
	RefreshEvery   time.Duration
	Queue          *Queue
	Logger         *slog.Logger
	// Interval between passes; After is how long a link must have been
	// pending before a pass touches it.
	Interval time.Duration
	After    time.Duration
	// Batch is how many links one read takes: a pass reads batch after
	// batch while full ones come back, for at most half the Interval (10 s
	// without one), and the next pass goes on where it stopped.
	Batch int

	cursor paysync.PendingCursor // where the last pass stopped short
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
// provider events, undelivered notifications and deliveries, and due
// refreshes, and reports how many links needed a new sync task.
func (r *Reconciler) Pass(ctx context.Context, before time.Time) (int, error) {
	n, err := r.pendingLinks(ctx, before)
	if err != nil {
		return n, err
	}
	if r.Inbox != nil {
		events, err := r.Inbox.UnprocessedInbox(ctx, before, r.batch())
		if err := enqueueAll(ctx, "inbox", events, err, r.Queue.EnqueueInbox); err != nil {
			return n, err
		}
	}
	if r.Outbox != nil {
		flushed, err := r.Outbox.FlushPending(ctx, before, r.batch())
		metrics.ReconcilerRequeued.WithLabelValues("notification").Add(float64(flushed))
		if err != nil {
			return n, err
		}
	}
	if r.Deliveries != nil {
		deliveries, err := r.Deliveries.UnsentDeliveries(ctx, before, r.batch())
		enqueue := func(ctx context.Context, id string) error { return r.Queue.EnqueueDelivery(ctx, id, r.WebhookMaxRetry) }
		if err := enqueueAll(ctx, "delivery", deliveries, err, enqueue); err != nil {
			return n, err
		}
	}
	if r.PaymentMethods != nil && r.RefreshEvery > 0 {
		links, err := r.PaymentMethods.LinksToRefresh(ctx, time.Now().Add(-r.RefreshEvery), r.batch())
		if err := enqueueAll(ctx, "refresh", links, err, r.Queue.EnqueueRefresh); err != nil {
			return n, err
		}
	}
	return n, nil
}

// enqueueAll queues every id of a listing that returned listErr, stopping
// at the first failure, and counts them under kind.
func enqueueAll(ctx context.Context, kind string, ids []string, listErr error, enqueue func(context.Context, string) error) error {
	if listErr != nil {
		return listErr
	}
	for _, id := range ids {
		if err := enqueue(ctx, id); err != nil {
			return err
		}
		metrics.ReconcilerRequeued.WithLabelValues(kind).Inc()
	}
	return nil
}

func (r *Reconciler) batch() int {
	if r.Batch <= 0 {
		return 500
	}
	return r.Batch
}

// pendingLinks ensures a task for every link pending since before, batch
// after batch, until a short batch shows the end or the pass's time is up.
// The same TaskIDs make it safe for reconcilers on several processes to
// pass at once: a link gets one task whoever gets there first.
func (r *Reconciler) pendingLinks(ctx context.Context, before time.Time) (int, error) {
	budget := r.Interval / 2
	if budget <= 0 {
		budget = 10 * time.Second
	}
	deadline := time.Now().Add(budget)
	n := 0
	for {
		refs, next, err := r.Store.PendingLinks(ctx, before, r.cursor, r.batch())
		if err != nil {
			return n, err
		}
		for _, ref := range refs {
			enqueued, err := r.Queue.Ensure(ctx, ref)
			if err != nil {
				return n, err
			}
			if enqueued {
				n++
				metrics.ReconcilerRequeued.WithLabelValues("sync").Inc()
			}
		}
		// A failure above leaves the cursor before the batch, to try again.
		r.cursor = next
		if len(refs) < r.batch() {
			r.cursor = paysync.PendingCursor{} // the end: the next pass starts over
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, nil
		}
	}
}
