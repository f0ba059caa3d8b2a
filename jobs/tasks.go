// Package jobs runs paysync's background work on asynq: the sync task that
// creates or links a customer at its provider, and the reconciler that
// re-enqueues links left pending.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// TypeSync is the task type of the customer sync job.
const TypeSync = "customer:sync"

// Options shape how sync tasks are queued and retried.
type Options struct {
	// Queue is the asynq queue name ("default" when empty).
	Queue string
	// MaxRetry is how many times a retryable failure is retried.
	MaxRetry int
	// RetryBase is the first retry delay; it doubles up to RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// Retention keeps completed tasks visible (and their TaskID taken).
	Retention time.Duration
}

func (o Options) queue() string {
	if o.Queue == "" {
		return "default"
	}
	return o.Queue
}

// taskTimeout bounds one run of any task (a few provider calls, each
// bounded itself); asynq's default is 30 minutes.
const taskTimeout = 2 * time.Minute

// NewSyncTask builds the task for one link generation. Its payload holds
// ids only: nothing personal or secret ever reaches Redis.
func NewSyncTask(ref paysync.LinkRef, o Options) (*asynq.Task, error) {
	payload, err := json.Marshal(ref)
	if err != nil {
		return nil, err
	}
	opts := []asynq.Option{asynq.TaskID(ref.TaskID()), asynq.Queue(o.queue()), asynq.MaxRetry(o.MaxRetry), asynq.Timeout(taskTimeout)}
	if o.Retention > 0 {
		opts = append(opts, asynq.Retention(o.Retention))
	}
	return asynq.NewTask(TypeSync, payload, opts...), nil
}

func parseSyncPayload(t *asynq.Task) (paysync.LinkRef, error) {
	var ref paysync.LinkRef
	if err := json.Unmarshal(t.Payload(), &ref); err != nil || ref.ID == "" {
		return ref, fmt.Errorf("sync task payload %q: %v: %w", t.Payload(), err, asynq.SkipRetry)
	}
	return ref, nil
}

// Queue implements paysync.Queue on asynq.
type Queue struct {
	Client    *asynq.Client
	Inspector *asynq.Inspector
	Options   Options
}

// EnqueueSync implements paysync.Queue: a task that already exists for the
// same link generation is left as it is.
func (q *Queue) EnqueueSync(ctx context.Context, ref paysync.LinkRef, delay time.Duration) error {
	t, err := NewSyncTask(ref, q.Options)
	if err != nil {
		return err
	}
	var opts []asynq.Option
	if delay > 0 {
		opts = append(opts, asynq.ProcessAt(notBefore(delay)))
	}
	_, err = q.Client.EnqueueContext(ctx, t, opts...)
	if isConflict(err) {
		return nil
	}
	return err
}

func isConflict(err error) bool { return errors.Is(err, asynq.ErrTaskIDConflict) }

// Ensure makes sure a pending link has a live task. A task left archived or
// completed while its link is still pending (a crash between the provider
// call and the database write, or a manual intervention) is replaced.
func (q *Queue) Ensure(ctx context.Context, ref paysync.LinkRef) (enqueued bool, err error) {
	return q.ensure(ctx, ref, q.Options.queue())
}

// ensure is Ensure on the named queue (a TaskID is unique within its queue).
func (q *Queue) ensure(ctx context.Context, ref paysync.LinkRef, queue string) (enqueued bool, err error) {
	t, err := NewSyncTask(ref, q.Options)
	if err != nil {
		return false, err
	}
	_, err = q.Client.EnqueueContext(ctx, t, asynq.Queue(queue))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, err
	}
	info, err := q.Inspector.GetTaskInfo(queue, ref.TaskID())
	if err != nil {
		if errors.Is(err, asynq.ErrTaskNotFound) {
			return q.ensure(ctx, ref, queue) // it completed and expired in between
		}
		return false, err
	}
	if info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted {
		return false, nil
	}
	if err := q.Inspector.DeleteTask(queue, ref.TaskID()); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return false, err
	}
	_, err = q.Client.EnqueueContext(ctx, t, asynq.Queue(queue))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, nil // another process got there first
	}
	return err == nil, err
}

// notBefore is the earliest whole second at least d from now: asynq keeps
// schedules in whole seconds and truncates, which would run a task up to a
// second before a provider's Retry-After has passed.
func notBefore(d time.Duration) time.Time {
	return time.Now().Add(d + time.Second - 1).Truncate(time.Second)
}

// RetryDelay honours a provider's Retry-After and otherwise backs off
// exponentially with jitter, so that many failing links do not retry in step.
func (o Options) RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var pe *paysync.ProviderError
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		// asynq adds this to its own clock reading; the margin keeps the
		// sum from truncating to the second before.
		return time.Until(notBefore(pe.RetryAfter)) + 10*time.Millisecond
	}
	d := o.RetryBase << min(n, 30)
	if d <= 0 || d > o.RetryMax {
		d = o.RetryMax
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Logger logs each task's outcome with ids and error codes only.
func Logger(log *slog.Logger) asynq.MiddlewareFunc {
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
