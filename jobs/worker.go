package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// WorkerOptions configure a worker process.
type WorkerOptions struct {
	Options
	Concurrency int
	// PollInterval is how often an idle worker looks for new tasks: the
	// pickup latency of a freshly enqueued sync.
	PollInterval    time.Duration
	ShutdownTimeout time.Duration
	// BulkDone, when set, is called after each bulk task (a sync run's
	// driver refills the run's window: RunDriver.Notify).
	BulkDone func()
}

// Handlers are the task handlers a worker runs; nil ones are not registered.
type Handlers struct {
	Sync       *Syncer
	Refresh    *Refresher
	Deliver    *Deliverer
	SetupLinks *SetupLinks
}

// NewWorker returns an asynq server running the handlers.
func NewWorker(redis asynq.RedisConnOpt, o WorkerOptions, h Handlers, log *slog.Logger) (*asynq.Server, *asynq.ServeMux) {
	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency: o.Concurrency,
		// Weighted rather than strict: a free slot takes live syncs first
		// six times in seven against bulk work, and bulk work still moves
		// while live work is queued all the time (a provider outage keeps
		// thousands of live retries falling due, which strict priority
		// would let starve every sync run).
		Queues:                   map[string]int{o.CriticalQueue(): 6, o.DefaultQueue(): 3, o.BulkQueue(): 1},
		TaskCheckInterval:        o.PollInterval,
		DelayedTaskCheckInterval: min(time.Second, max(o.PollInterval, 100*time.Millisecond)),
		RetryDelayFunc:           o.RetryDelay,
		ShutdownTimeout:          o.ShutdownTimeout,
		Logger:                   asynqLogger{log},
		LogLevel:                 asynq.WarnLevel,
		// Errors are logged by the LogTasks middleware with ids and codes only.
		ErrorHandler: asynq.ErrorHandlerFunc(func(context.Context, *asynq.Task, error) {}),
	})
	mux := asynq.NewServeMux()
	mux.Use(LogTasks(log), markBulk(o.BulkQueue(), o.BulkDone))
	if h.Sync != nil {
		mux.Handle(TypeSync, h.Sync)
	}
	if h.Refresh != nil {
		mux.HandleFunc(TypeInbox, h.Refresh.ProcessInbox)
		mux.HandleFunc(TypeRefresh, h.Refresh.ProcessRefresh)
	}
	if h.Deliver != nil {
		mux.Handle(TypeDeliver, h.Deliver)
	}
	if h.SetupLinks != nil {
		mux.Handle(TypeSetupLink, h.SetupLinks)
	}
	return srv, mux
}

// LogTasks is the middleware that logs each task's outcome, with ids and
// error codes only.
func LogTasks(log *slog.Logger) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			id, _ := asynq.GetTaskID(ctx)
			retry, _ := asynq.GetRetryCount(ctx)
			attrs := []any{"task_id", id, "type", t.Type(), "retry", retry, "duration", time.Since(start).Round(time.Millisecond)}
			if err != nil {
				var pe *paysync.ProviderError
				if errors.As(err, &pe) {
					attrs = append(attrs, "provider", pe.Provider, "error_code", pe.Code, "retryable", pe.Retryable)
				} else {
					attrs = append(attrs, "err", err)
				}
				log.Warn("task failed", attrs...)
				return err
			}
			log.Debug("task done", attrs...)
			return nil
		})
	}
}

// markBulk tells the provider calls of the bulk queue's tasks that they
// are bulk work, which the connection's rate limiter holds to its share,
// and calls done (when set) after each of them.
func markBulk(queue string, done func()) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			q, _ := asynq.GetQueueName(ctx)
			if q != queue {
				return next.ProcessTask(ctx, t)
			}
			err := next.ProcessTask(paysync.WithBulk(ctx), t)
			if done != nil {
				done()
			}
			return err
		})
	}
}

// asynqLogger routes asynq's own logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(sprint(args), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(sprint(args), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(sprint(args), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(sprint(args), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(sprint(args), "component", "asynq", "fatal", true) }

func sprint(args []any) string {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return s
		}
	}
	return slog.AnyValue(args).String()
}
