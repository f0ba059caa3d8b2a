package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/paysync/paysync"
	"github.com/redis/go-redis/v9"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runWatch follows a sync run in one worker process until it is done,
// sampling the worker's memory and Redis's.
type runWatch struct {
	idleHWM, peakHWM int64 // KiB
	// Redis: the bytes of the bulk queue's keys and the tasks in them at
	// the sample with the most tasks; used_memory's rise.
	peakQueueBytes, peakQueueTasks, maxBytesPerTask float64
	usedMemoryRise                                  float64
	maxTasks                                        int
	seconds                                         float64 // run created → finished, from the store
	firstSynced                                     float64 // run created → first customer synced
	run                                             *runView
}

// watchRun starts the run and waits for it in a fresh worker process.
func (f *farm) watchRun(ctx context.Context, run map[string]any, code string, within time.Duration) (*runWatch, error) {
	procs, err := startWorkers(ctx, 1, f.env, f.b.errs)
	if err != nil {
		return nil, err
	}
	defer stopWorkers(procs)
	pid := procs[0].cmd.Process.Pid
	time.Sleep(500 * time.Millisecond) // settled after start-up
	w := &runWatch{}
	if w.idleHWM, err = procStatus(pid, "VmHWM"); err != nil {
		return nil, err
	}
	used0, err := f.usedMemory(ctx)
	if err != nil {
		return nil, err
	}
	r, err := f.startRun(ctx, run)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(within)
	lastSample := time.Time{}
	for {
		if time.Since(lastSample) >= 500*time.Millisecond {
			lastSample = time.Now()
			bytes, tasks, err := f.bulkQueueMemory(ctx)
			if err != nil {
				return nil, err
			}
			// The sample with the most tasks: the fixed keys weigh least.
			if tasks > w.maxTasks {
				w.maxBytesPerTask, w.peakQueueBytes, w.peakQueueTasks = bytes/float64(tasks), bytes, float64(tasks)
			}
			w.maxTasks = max(w.maxTasks, tasks)
			if used, err := f.usedMemory(ctx); err == nil {
				w.usedMemoryRise = max(w.usedMemoryRise, used-used0)
			}
		}
		if w.run, err = f.getRun(ctx, r.ID); err != nil {
			return nil, err
		}
		if w.run.State == "done" {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("run %d of %d done in %s", w.run.Done, w.run.Total, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if w.peakHWM, err = procStatus(pid, "VmHWM"); err != nil {
		return nil, err
	}
	err = f.db.QueryRowContext(ctx, `SELECT EXTRACT(EPOCH FROM r.finished_at - r.created_at)::float8,
		COALESCE(EXTRACT(EPOCH FROM (SELECT MIN(l.synced_at) FROM provider_links l WHERE l.connection_code = $2 AND l.synced_at >= r.created_at) - r.created_at)::float8, -1)
		FROM sync_runs r WHERE r.id = $1`, r.ID, code).Scan(&w.seconds, &w.firstSynced)
	return w, err
}

// usedMemory is Redis's INFO used_memory (the whole server: other users
// of the same Redis move it too).
func (f *farm) usedMemory(ctx context.Context) (float64, error) {
	info, err := f.a.Redis.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO")
}

// bulkQueueMemory sums MEMORY USAGE of the bulk queue's keys (its lists,
// sets and task hashes) and counts the tasks they hold.
func (f *farm) bulkQueueMemory(ctx context.Context) (float64, int, error) {
	q := f.a.Queue.Options.BulkQueue()
	prefix := "asynq:{" + q + "}:"
	var keys []string
	iter := f.a.Redis.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return 0, 0, err
	}
	pipe := f.a.Redis.Pipeline()
	usage := make([]interface{ Val() int64 }, len(keys))
	for i, k := range keys {
		usage[i] = pipe.MemoryUsage(ctx, k, 0)
	}
	if len(keys) > 0 {
		// A key gone since the scan answers nil: it counts nothing.
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return 0, 0, err
		}
	}
	var bytes float64
	tasks := 0
	for i, k := range keys {
		bytes += float64(usage[i].Val())
		if strings.HasPrefix(k, prefix+"t:") {
			tasks++
		}
	}
	return bytes, tasks, nil
}

// bulkScenario is (h): a resync of n customers linked to the zero-latency
// emulator, driven by one worker process; next to it, the same syncs
// queued directly in the critical queue without a run.
func (f *farm) bulkScenario(ctx context.Context, n int) error {
	b := f.b
	ids, err := f.seedEmulator(ctx, connFast, n, "", true)
	if err != nil {
		return err
	}
	if err := f.insertCustomers(ctx, "bulkh-", n, connFast, ids); err != nil {
		return err
	}
	w, err := f.watchRun(ctx, map[string]any{"mode": "resync",
		"filter": map[string]any{"provider": "stripe", "connection_code": connFast}}, connFast, 20*time.Minute)
	if err != nil {
		return err
	}
	b.print("bulk_run_customers", float64(w.run.Total), "1")
	b.print("bulk_syncs_per_s", float64(w.run.Synced)/w.seconds, "1/s")
	b.print("bulk_run_failed", float64(w.run.Failed), "1")
	b.print("time_to_first_synced", w.firstSynced*1000, "ms")
	b.print("bulk_peak_rss", float64(w.peakHWM)/1024, "MiB")
	b.print("worker_idle_rss", float64(w.idleHWM)/1024, "MiB")
	b.print("redis_bytes_per_task", w.maxBytesPerTask, "B")
	b.print("redis_bulk_queue_peak_tasks", float64(w.maxTasks), "1")
	if w.maxTasks > 0 {
		b.print("redis_used_memory_rise_per_task", w.usedMemoryRise/float64(w.maxTasks), "B")
	}

	// Baseline: the next generation of the same links queued at once on
	// the critical queue, drained by a fresh worker process.
	direct, err := f.directResync(ctx, connFast, n)
	if err != nil {
		return err
	}
	b.print("direct_syncs_per_s", direct, "1/s")
	b.print("bulk_vs_direct_ratio", float64(w.run.Synced)/w.seconds/direct, "x")
	return nil
}

// directResync starts the next generation of every link of code in SQL,
// queues their tasks and returns the syncs per second from the first
// enqueue to the last sync.
func (f *farm) directResync(ctx context.Context, code string, n int) (float64, error) {
	rows, err := f.db.QueryContext(ctx, `UPDATE provider_links SET generation = generation + 1, state = 'pending',
		link_only = TRUE, pending_since = now(), updated_at = now() WHERE connection_code = $1 RETURNING id, generation`, code)
	if err != nil {
		return 0, err
	}
	type ref struct {
		id  string
		gen int
	}
	var refs []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.id, &r.gen); err != nil {
			rows.Close()
			return 0, err
		}
		refs = append(refs, r)
	}
	rows.Close()
	procs, err := startWorkers(ctx, 1, f.env, f.b.errs)
	if err != nil {
		return 0, err
	}
	defer stopWorkers(procs)
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(refs); i += 8 {
				if err := f.a.Queue.EnqueueSync(ctx, linkRef(refs[i].id, refs[i].gen), 0); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	deadline := time.Now().Add(20 * time.Minute)
	for {
		left, err := f.count(ctx, "SELECT COUNT(*) FROM provider_links WHERE connection_code = $1 AND state = 'pending'", code)
		if err != nil {
			return 0, err
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("%d links still pending", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return float64(len(refs)) / time.Since(start).Seconds(), nil
}

// importScenario is (i): an import of n provider customers seeded with an
// external id in metadata, matched to n paysync customers, each linked
// (and verified at the provider) by one worker process.
func (f *farm) importScenario(ctx context.Context, n int) error {
	b := f.b
	if _, err := f.seedEmulator(ctx, connImport, n, "imp-", false); err != nil {
		return err
	}
	if err := f.insertCustomers(ctx, "imp-", n, "", nil); err != nil {
		return err
	}
	w, err := f.watchRun(ctx, map[string]any{"mode": "import",
		"filter": map[string]any{"provider": "stripe", "connection_code": connImport}}, connImport, 20*time.Minute)
	if err != nil {
		return err
	}
	linked, err := f.count(ctx, "SELECT COUNT(*) FROM provider_links WHERE connection_code = $1 AND state = 'synced'", connImport)
	if err != nil {
		return err
	}
	b.print("import_customers", float64(w.run.Total), "1")
	b.print("import_linked", float64(linked), "1")
	b.print("import_links_per_s", float64(linked)/w.seconds, "1/s")
	b.print("import_peak_rss", float64(w.peakHWM)/1024, "MiB")
	b.print("import_worker_idle_rss", float64(w.idleHWM)/1024, "MiB")
	return nil
}

func linkRef(id string, gen int) paysync.LinkRef { return paysync.LinkRef{ID: id, Generation: gen} }
