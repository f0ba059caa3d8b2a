package app

import (
	"context"
	"fmt"
	"time"

	"github.com/paysync/paysync/jobs"
)

// StartWorker runs the worker role: the asynq sync workers, the sync-run
// driver and the reconciler, until ctx ends; stop shuts the asynq server
// down. `paysync serve` and the bench's worker processes share it.
func (a *App) StartWorker(ctx context.Context) (stop func(), err error) {
	cfg, log := a.Config, a.Logger
	runs := &jobs.RunDriver{Runs: a.DB, Connections: a.Registry, Queue: a.Queue, Logger: log, Window: cfg.BulkWindow,
		LiveShare: cfg.LiveShare, Interval: 250 * time.Millisecond, MinGap: 50 * time.Millisecond, RequeueEvery: 30 * time.Second}
	srv, mux := jobs.NewWorker(a.RedisOpt, jobs.WorkerOptions{
		Options: a.Queue.Options, Concurrency: cfg.Concurrency,
		PollInterval: cfg.PollInterval, ShutdownTimeout: cfg.ShutdownTimeout, BulkDone: runs.Notify,
	}, a.Handlers, log)
	if err := srv.Start(mux); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	rec := &jobs.Reconciler{Store: a.DB, Inbox: a.DB, Deliveries: a.DB, PaymentMethods: a.DB, Queue: a.Queue, Logger: log,
		Interval: cfg.ReconcileInterval, After: cfg.ReconcileAfter, RefreshEvery: cfg.RefreshInterval, WebhookMaxRetry: cfg.WebhookMaxRetry, Outbox: a.Outbox}
	var startedAt time.Time
	if a.EmbeddedRedis != nil {
		startedAt = a.StartedAt // a fresh in-process Redis has lost every queued task
	}
	go rec.Run(ctx, startedAt)
	go runs.Run(ctx)
	return srv.Shutdown, nil
}
