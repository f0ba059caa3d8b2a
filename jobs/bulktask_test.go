package jobs

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
)

// A sync run's task is small enough for Redis's compact hash encoding, is
// queued once per link generation, and syncs its link through a worker.
func TestBulkSyncTaskIsCompact(t *testing.T) {
	r := newRig(t, testenv.PostgresURL(t))
	// The default queue names ("bulk") and short prefixes fit the budget.
	r.queue.Options.Queue = testenv.RandomName("")[:8]
	ctx := context.Background()
	ref := r.create(t, "bulk-compact", syncWith(paysync.Stripe)).Link.Ref()
	if _, err := r.queue.Inspector.DeleteAllPendingTasks(r.queue.Options.CriticalQueue()); err != nil {
		t.Fatal(err)
	}
	bulk := r.queue.Options.BulkQueue()
	for range 2 {
		if err := r.queue.EnqueueBulkSync(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	if enqueued, err := r.queue.ensure(ctx, ref, bulk); err != nil || enqueued {
		t.Fatalf("ensure beside a live bulk task: enqueued %v, %v", enqueued, err)
	}
	tasks, err := r.queue.Inspector.ListPendingTasks(bulk)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("bulk queue holds %d tasks (%v), want 1", len(tasks), err)
	}
	if got, ok := parseBulkTaskID(tasks[0].ID); !ok || got != ref || len(tasks[0].Payload) != 0 {
		t.Fatalf("task %q payload %q reads as %+v, want %+v with no payload", tasks[0].ID, tasks[0].Payload, got, ref)
	}
	opt, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	key := "asynq:{" + bulk + "}:t:" + tasks[0].ID
	if enc, err := rdb.ObjectEncoding(ctx, key).Result(); err != nil || enc != "listpack" {
		t.Errorf("task hash %s is encoded %q (%v), want listpack", key, enc, err)
	}

	srv, mux := NewWorker(r.opt, WorkerOptions{Options: r.queue.Options, Concurrency: 2, PollInterval: 50 * time.Millisecond, ShutdownTimeout: time.Second},
		Handlers{Sync: r.syncer}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	waitState(t, r, "bulk-compact", paysync.SyncSynced)
	if n := r.emu.CustomerCount(); n != 1 {
		t.Errorf("%d provider customers, want 1", n)
	}
}

// A link id that is not a UUID still gets a task, carried in its payload.
func TestBulkSyncTaskOtherIDs(t *testing.T) {
	ref := paysync.LinkRef{ID: "legacy-7", Generation: 3}
	task, id, err := newBulkSyncTask(ref, Options{})
	if err != nil || id != ref.TaskID() {
		t.Fatalf("task id %q, %v", id, err)
	}
	got, err := parseSyncTask(context.Background(), task)
	if err != nil || got != ref {
		t.Fatalf("parsed %+v, %v", got, err)
	}
	for _, bad := range []string{"", "sync:x:1", "AZLwpFtsfY6fABEiM0RVZg", "AZLwpFtsfY6fABEiM0RVZg:x", "AZLw:1"} {
		if _, ok := parseBulkTaskID(bad); ok {
			t.Errorf("%q parsed as a link generation", bad)
		}
	}
	if _, err := parseSyncTask(context.Background(), asynq.NewTask(TypeSync, nil)); err == nil {
		t.Error("a task with neither payload nor TaskID parsed")
	}
}
