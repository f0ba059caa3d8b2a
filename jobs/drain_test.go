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
