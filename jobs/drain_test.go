package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
)

// After Redis lost every task, one pass of the reconciler re-enqueues all
// the pending links, more than one batch of them, and two reconcilers
// passing at once queue exactly one task per link.
func TestReconcilerDrainsEveryPendingLink(t *testing.T) {
	const links = 1234
	r := newRig(t, testenv.PostgresURL(t))
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < links; i += 8 {
				r.create(t, fmt.Sprintf("drain-%d", i), syncWith(paysync.Stripe))
			}
		}()
	}
	wg.Wait()
	queue := r.queue.Options.CriticalQueue()
	queued := func() int {
		t.Helper()
		info, err := r.queue.Inspector.GetQueueInfo(queue)
		if err != nil {
			t.Fatal(err)
		}
		return info.Pending
	}
	flush := func() {
		t.Helper()
		// Every task and its TaskID go, as in a flushed Redis.
		if _, err := r.queue.Inspector.DeleteAllPendingTasks(queue); err != nil {
			t.Fatal(err)
		}
		if got := queued(); got != 0 {
			t.Fatalf("%d tasks left after the flush", got)
		}
	}
	newReconciler := func() *Reconciler {
		return &Reconciler{Store: r.db, Queue: r.queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Interval: time.Minute}
	}
	before := time.Now().Add(time.Second)

	flush()
	if n, err := newReconciler().Pass(ctx, before); err != nil || n != links {
		t.Fatalf("one pass re-enqueued %d of %d links (batch %d): %v", n, links, newReconciler().batch(), err)
	}
	if got := queued(); got != links {
		t.Fatalf("%d tasks queued for %d links", got, links)
	}

	flush()
	var total int
	var mu sync.Mutex
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := newReconciler().Pass(ctx, before)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got := queued(); total != links || got != links {
		t.Fatalf("two reconcilers: %d enqueues reported, %d tasks queued, for %d links", total, got, links)
	}
}

// The bulk window is per connection, all runs together: a second run on
// the same connection waits for room, a run on another connection does not.
func TestBulkWindowIsPerConnection(t *testing.T) {
	r := newRig(t, testenv.PostgresURL(t))
	ctx := context.Background()
	for i := range 12 {
		r.create(t, fmt.Sprintf("bare-%d", i), nil)
	}
	start := func(code string) *paysync.SyncRun {
		t.Helper()
		run := &paysync.SyncRun{OrganizationID: r.org, Mode: paysync.RunLinkMissing,
			Filter: paysync.SyncRunFilter{Provider: paysync.Stripe, ConnectionCode: code}}
		if err := r.db.AddSyncRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		return run
	}
	first, second, other := start("stripe"), start("stripe"), start("other")
	d := &RunDriver{Runs: r.db, Queue: r.queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Window: 4, RequeueEvery: time.Hour}
	for range 2 {
		if err := d.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	inFlight := func(run *paysync.SyncRun) int {
		t.Helper()
		got, err := r.db.SyncRun(ctx, r.org, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.InFlight
	}
	if a, b, c := inFlight(first), inFlight(second), inFlight(other); a != 4 || b != 0 || c != 4 {
		t.Fatalf("in flight: first run %d, second run on the same connection %d, run on another connection %d; want 4, 0, 4", a, b, c)
	}
	info, err := r.queue.Inspector.GetQueueInfo(r.queue.Options.BulkQueue())
	if err != nil || info.Pending != 8 {
		t.Fatalf("bulk queue: %+v, %v; want 8 tasks", info, err)
	}
}
