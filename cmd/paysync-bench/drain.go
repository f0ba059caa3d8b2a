package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/jobs"
)

// drainScenario is (g): n links pending for two minutes and none of their
// tasks in Redis (as after a flush); the production reconciler runs until
// every one is queued again, next to queueing the same tasks directly.
func (f *farm) drainScenario(ctx context.Context, n int) error {
	b := f.b
	if err := f.insertCustomers(ctx, "drain-", n, "", nil); err != nil {
		return err
	}
	if _, err := f.db.ExecContext(ctx, `INSERT INTO provider_links (id, customer_id, organization_id, provider, connection_code,
		sync_with_provider, generation, state, pending_since, updated_at)
		SELECT gen_random_uuid()::text, c.id, c.organization_id, 'stripe', $2, TRUE, 1, 'pending', now() - interval '2 minutes', now()
		FROM customers c WHERE c.organization_id = $1 AND c.external_id LIKE 'drain-%'`, f.org, connFast); err != nil {
		return err
	}
	defer func() {
		_, _ = f.db.ExecContext(context.WithoutCancel(ctx), "DELETE FROM customers WHERE external_id LIKE 'drain-%'")
	}()
	// Every link pending since before the reconciler's horizon is to be queued.
	want, err := f.count(ctx, "SELECT COUNT(*) FROM provider_links WHERE state = 'pending' AND pending_since < now() - interval '90 seconds'")
	if err != nil {
		return err
	}
	queue := f.a.Queue.Options.CriticalQueue()
	insp := f.a.Queue.Inspector
	flush := func() {
		_, _ = insp.DeleteAllPendingTasks(queue)
		_, _ = insp.DeleteAllScheduledTasks(queue)
		_, _ = insp.DeleteAllRetryTasks(queue)
	}
	pending := func() int {
		info, err := insp.GetQueueInfo(queue)
		if err != nil {
			return 0
		}
		return info.Pending
	}
	flush()
	cfg := f.a.Config
	rec := &jobs.Reconciler{Store: f.a.DB, Queue: f.a.Queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Interval: cfg.ReconcileInterval, After: cfg.ReconcileAfter}
	rctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	go rec.Run(rctx, time.Time{})
	deadline := start.Add(5 * time.Minute)
	for pending() < want {
		if time.Now().After(deadline) || ctx.Err() != nil {
			cancel()
			return fmt.Errorf("the reconciler queued %d of %d links in 5 minutes", pending(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	drain := time.Since(start)
	cancel()

	// Baseline: the same tasks queued straight from a list in memory, one
	// at a time as the reconciler does.
	rows, err := f.db.QueryContext(ctx, "SELECT id, generation FROM provider_links WHERE state = 'pending' AND pending_since < now() - interval '90 seconds'")
	if err != nil {
		return err
	}
	var refs []paysync.LinkRef
	for rows.Next() {
		var r paysync.LinkRef
		if err := rows.Scan(&r.ID, &r.Generation); err != nil {
			rows.Close()
			return err
		}
		refs = append(refs, r)
	}
	rows.Close()
	flush()
	start = time.Now()
	for _, r := range refs {
		if err := f.a.Queue.EnqueueSync(ctx, r, 0); err != nil {
			return err
		}
	}
	direct := time.Since(start)
	flush()
	b.print("reconcile_drain_s", drain.Seconds(), "s")
	b.print("reconcile_drain_links", float64(want), "1")
	b.print("reconcile_drain_links_per_s", float64(want)/drain.Seconds(), "1/s")
	b.print("direct_enqueue_s", direct.Seconds(), "s")
	b.print("reconcile_vs_direct_ratio", drain.Seconds()/direct.Seconds(), "x")
	return nil
}
