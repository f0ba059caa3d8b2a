package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// RunDriver walks the running sync runs: each pass settles the items that
// finished and starts the next ones, keeping at most Window items of a run
// in flight, so that memory and Redis use stay flat however large the run.
// Every worker process may run one: the run's row lock serialises them.
type RunDriver struct {
	Runs paysync.SyncRunStore
	// Connections give import runs their provider's customer list.
	Connections paysync.Connections
	Queue       *Queue
	Logger      *slog.Logger
	// Window is how many items of one run are in flight at once.
	Window   int
	Interval time.Duration
	// RequeueEvery is how often a run's in-flight items are queued again
	// (a no-op while their tasks exist): a restart of the process or of
	// Redis may have lost them, and the reconciler leaves them to the run.
	RequeueEvery time.Duration

	requeued map[string]time.Time
}

// Run makes passes until ctx ends.
func (d *RunDriver) Run(ctx context.Context) {
	for {
		if err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Warn("sync run pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.Interval):
		}
	}
}

// Pass advances every running run once.
func (d *RunDriver) Pass(ctx context.Context) error {
	runs, err := d.Runs.RunningSyncRuns(ctx)
	if err != nil {
		return err
	}
	if d.requeued == nil {
		d.requeued = map[string]time.Time{}
	}
	for _, r := range runs {
		id := r.ID
		if last, ok := d.requeued[id]; !ok || time.Since(last) >= d.RequeueEvery {
			items, err := d.Runs.SyncRunInFlight(ctx, id, max(d.Window, 1)*4)
			if err != nil {
				return err
			}
			if err := d.enqueue(ctx, items, true); err != nil {
				return err
			}
			d.requeued[id] = time.Now()
		}
		run, items, err := d.advance(ctx, r)
		if err != nil {
			return err
		}
		// A failed enqueue leaves the items in flight: their links are
		// pending, which the reconciler re-enqueues, and the next start of
		// a driver queues them again.
		if err := d.enqueue(ctx, items, false); err != nil {
			return err
		}
		if run.Finished() {
			delete(d.requeued, id)
			d.Logger.Info("sync run finished", "sync_run_id", id, "state", string(run.State), "total", run.Total,
				"synced", run.Synced, "failed", run.Failed, "skipped", run.Skipped)
		}
	}
	return nil
}

// advance moves one run on: an import reads its provider's next page.
func (d *RunDriver) advance(ctx context.Context, r *paysync.SyncRun) (*paysync.SyncRun, []paysync.RunItem, error) {
	window := max(d.Window, 1)
	if r.Mode != paysync.RunImport {
		return d.Runs.AdvanceSyncRun(ctx, r.ID, window)
	}
	p, err := d.Connections.Provider(r.OrganizationID, r.Filter.Provider, r.Filter.ConnectionCode)
	if err != nil {
		return nil, nil, err
	}
	lister, ok := p.(paysync.CustomerLister)
	if !ok {
		return nil, nil, fmt.Errorf("sync run %s: %s cannot list its customers", r.ID, r.Filter.Provider)
	}
	return d.Runs.AdvanceImport(ctx, r.ID, window, func(cursor string, limit int) (paysync.CustomerPage, error) {
		return lister.ListCustomers(ctx, cursor, max(limit, 10))
	})
}

func (d *RunDriver) enqueue(ctx context.Context, items []paysync.RunItem, again bool) error {
	for _, it := range items {
		var err error
		switch {
		case it.Refresh:
			err = d.Queue.enqueue(ctx, NewRefreshTask(it.ID, d.Queue.Options), asynq.Queue(d.Queue.Options.BulkQueue()))
		case again:
			_, err = d.Queue.ensure(ctx, it.LinkRef, d.Queue.Options.BulkQueue())
		default:
			err = d.Queue.EnqueueBulkSync(ctx, it.LinkRef)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// EnqueueBulkSync queues one link generation of a sync run on the bulk
// queue; a task that already exists for it there is left as it is.
func (q *Queue) EnqueueBulkSync(ctx context.Context, ref paysync.LinkRef) error {
	t, err := NewSyncTask(ref, q.Options)
	if err != nil {
		return err
	}
	_, err = q.Client.EnqueueContext(ctx, t, asynq.Queue(q.Options.BulkQueue()))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}
