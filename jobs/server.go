package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// WorkerOptions configure a worker process.
type WorkerOptions struct {
	Options
	Concurrency int
	// PollInterval is how often an idle worker looks for new tasks: the
	// pickup latency of a freshly enqueued sync.
	PollInterval    time.Duration
	ShutdownTimeout time.Duration
}

// NewWorker returns an asynq server running the sync handler.
func NewWorker(redis asynq.RedisConnOpt, o WorkerOptions, syncer *Syncer, log *slog.Logger) (*asynq.Server, *asynq.ServeMux) {
	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency:              o.Concurrency,
		Queues:                   map[string]int{o.queue(): 1},
		TaskCheckInterval:        o.PollInterval,
		DelayedTaskCheckInterval: min(time.Second, max(o.PollInterval, 100*time.Millisecond)),
		RetryDelayFunc:           o.RetryDelay,
		ShutdownTimeout:          o.ShutdownTimeout,
		Logger:                   asynqLogger{log},
		LogLevel:                 asynq.WarnLevel,
		// Errors are logged by the Logger middleware with ids and codes only.
		ErrorHandler: asynq.ErrorHandlerFunc(func(context.Context, *asynq.Task, error) {}),
	})
	mux := asynq.NewServeMux()
	mux.Use(Logger(log))
	mux.Handle(TypeSync, syncer)
	return srv, mux
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
