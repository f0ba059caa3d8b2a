package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/metrics"
)

// RunDriver walks the running sync runs: each pass settles the items that
// finished and starts the next ones, keeping at most a window of items in
// flight per connection, all runs together, so that memory and Redis use
// stay flat however large the runs, and one organization's runs cannot
// take every worker slot. A pass follows soon after bulk tasks finish
// (Notify), so the window is refilled as it drains rather than once per
// Interval. Every worker process may run one: the run's row lock
// serialises them (two drivers' passes at the same moment may each read
// the other's runs before it advanced them: the cap then holds per driver).
type RunDriver struct {
	Runs paysync.SyncRunStore
	// Connections give import runs their provider's customer list, and
	// the window its connection's rate limit.
	Connections paysync.Connections
	Queue       *Queue
	Logger      *slog.Logger
	// Window is the most items of the runs on one connection in flight at
	// once. A rate-limited connection gets fewer: about a second of its
	// bulk pace (RateLimit × (1 − LiveShare)), as more would only wait in
	// the limiter holding worker slots.
	Window    int
	LiveShare float64
	// Interval is the longest time between passes; MinGap the shortest,
	// so that tasks finishing in a burst make one pass, not one each.
	Interval time.Duration
	MinGap   time.Duration
	// RequeueEvery is how often a run's in-flight items are queued again
	// (a no-op while their tasks exist): a restart of the process or of
	// Redis may have lost them, and the reconciler leaves them to the run.
	RequeueEvery time.Duration

	requeued map[string]time.Time
	wakeOnce sync.Once
	wakeCh   chan struct{}
}

// minRateWindow keeps a slow connection's window from starving its run
// when one call takes longer than the second its window is sized for.
const minRateWindow = 4

// Notify tells the driver that a bulk task finished: its next pass comes
// within MinGap instead of Interval. It never blocks.
func (d *RunDriver) Notify() {
	select {
	case d.wake() <- struct{}{}:
	default:
	}
}

func (d *RunDriver) wake() chan struct{} {
	d.wakeOnce.Do(func() { d.wakeCh = make(chan struct{}, 1) })
	return d.wakeCh
}

// Run makes passes until ctx ends.
func (d *RunDriver) Run(ctx context.Context) {
	interval := d.Interval
	if interval <= 0 {
		interval = time.Second
	}
	for {
		if err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Warn("sync run pass failed", "err", err)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-d.wake():
			t.Stop()
		}
		if d.MinGap > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d.MinGap):
			}
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
	inFlight := make(map[string]int, len(runs))
	for _, r := range runs {
		inFlight[r.ID] = r.InFlight
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
		// The oldest runs take the room first.
		window := d.window(r)
		for _, o := range runs {
			if o.ID != r.ID && shareConnection(o, r) {
				window -= inFlight[o.ID]
			}
		}
		run, items, err := d.advance(ctx, r, window)
		if err != nil {
			return err
		}
		inFlight[r.ID] = run.InFlight
		countSettled(r, run)
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

// countSettled adds the items that finished between two readings of a run
// to paysync_sync_run_items_total. Two drivers passing the same run at the
// same moment may both count an item that finished between their reads:
// the counter is for rates on a dashboard, the run's own counts are exact.
func countSettled(before, after *paysync.SyncRun) {
	mode := string(after.Mode)
	for outcome, n := range map[string]int{"synced": after.Synced - before.Synced,
		"failed": after.Failed - before.Failed, "skipped": after.Skipped - before.Skipped} {
		if n > 0 {
			metrics.SyncRunItems.WithLabelValues(mode, outcome).Add(float64(n))
		}
	}
}

// window is how many items the runs on r's connection may have in flight.
func (d *RunDriver) window(r *paysync.SyncRun) int {
	w := max(d.Window, 1)
	if d.Connections == nil || r.Filter.Provider == "" {
		return w
	}
	var conns []paysync.Connection
	for _, c := range d.Connections.List(r.OrganizationID, r.Filter.Provider) {
		if r.Filter.ConnectionCode == "" || c.Code == r.Filter.ConnectionCode {
			conns = append(conns, c)
		}
	}
	// A run over several connections keeps the configured window.
	if len(conns) != 1 || conns[0].RateLimit <= 0 {
		return w
	}
	share := d.LiveShare
	if share <= 0 || share >= 1 {
		share = 0
	}
	paced := int(math.Ceil(conns[0].RateLimit * (1 - share)))
	return min(w, max(paced, minRateWindow))
}

// shareConnection reports whether two runs may have items on the same
// connection. A run whose filter names no provider or no connection code
// may reach any of its organization's connections: it counts against each.
func shareConnection(a, b *paysync.SyncRun) bool {
	match := func(x, y string) bool { return x == "" || y == "" || x == y }
	return a.OrganizationID == b.OrganizationID && match(string(a.Filter.Provider), string(b.Filter.Provider)) &&
		match(a.Filter.ConnectionCode, b.Filter.ConnectionCode)
}

// advance moves one run on, keeping at most window of its items in flight
// (none start at 0 or less): an import reads its provider's next page.
func (d *RunDriver) advance(ctx context.Context, r *paysync.SyncRun, window int) (*paysync.SyncRun, []paysync.RunItem, error) {
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
	t, _, err := newBulkSyncTask(ref, q.Options)
	if err != nil {
		return err
	}
	_, err = q.Client.EnqueueContext(ctx, t)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}
