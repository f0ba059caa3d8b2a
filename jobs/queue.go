package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// Options shape how tasks are queued and retried.
type Options struct {
	// Queue names the three queues (see CriticalQueue, DefaultQueue and
	// BulkQueue), so that processes with different names never take each
	// other's tasks on a shared Redis.
	Queue string
	// MaxRetry is how many times a retryable failure is retried.
	MaxRetry int
	// RetryBase is the first retry delay; it doubles up to RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// Retention keeps completed tasks visible (and their TaskID taken).
	Retention time.Duration
}

// CriticalQueue holds live syncs: new customers', resyncs asked through
// the API, inline attempts continued in the background, and links the
// reconciler finds pending. Workers take it first.
func (o Options) CriticalQueue() string {
	if o.Queue == "" {
		return "critical"
	}
	return o.Queue + ":critical"
}

// DefaultQueue holds the rest of the live work: payment-method refreshes,
// setup links, provider events and client webhook deliveries.
func (o Options) DefaultQueue() string {
	if o.Queue == "" {
		return "default"
	}
	return o.Queue
}

// BulkQueue holds sync runs' tasks: workers take it last, so that a run
// over every customer never delays the customer created now.
func (o Options) BulkQueue() string {
	if o.Queue == "" {
		return "bulk"
	}
	return o.Queue + ":bulk"
}

// Queues lists the three queues, first taken first.
func (o Options) Queues() []string {
	return []string{o.CriticalQueue(), o.DefaultQueue(), o.BulkQueue()}
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

const (
	// taskTimeout bounds one run of any task (a few provider calls, each
	// bounded itself); asynq's default is 30 minutes.
	taskTimeout = 2 * time.Minute
	// storeTimeout bounds the store write that records a task's outcome.
	storeTimeout = 10 * time.Second
)

// Queue implements paysync.Queue on asynq, and queues every other task.
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
	return q.enqueue(ctx, t, opts...)
}

// Ensure makes sure a pending link has a live task. A task left archived or
// completed while its link is still pending (a crash between the provider
// call and the database write, or a manual intervention) is replaced.
func (q *Queue) Ensure(ctx context.Context, ref paysync.LinkRef) (enqueued bool, err error) {
	enqueued, err = q.ensure(ctx, ref, q.Options.CriticalQueue())
	return enqueued, redisUnavailable(err)
}

// ensure is Ensure on the named queue (a TaskID is unique within its queue).
func (q *Queue) ensure(ctx context.Context, ref paysync.LinkRef, queue string) (enqueued bool, err error) {
	t, taskID, err := q.syncTask(ref, queue)
	if err != nil {
		return false, err
	}
	_, err = q.Client.EnqueueContext(ctx, t)
	if err == nil {
		return true, nil
	}
	if !isConflict(err) {
		return false, err
	}
	info, err := q.Inspector.GetTaskInfo(queue, taskID)
	if err != nil {
		if errors.Is(err, asynq.ErrTaskNotFound) {
			return q.ensure(ctx, ref, queue) // it completed and expired in between
		}
		return false, err
	}
	if info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted {
		return false, nil
	}
	if err := q.Inspector.DeleteTask(queue, taskID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return false, err
	}
	_, err = q.Client.EnqueueContext(ctx, t)
	if isConflict(err) {
		return false, nil // another process got there first
	}
	return err == nil, err
}

// syncTask is the sync task of one link generation on queue, and its TaskID.
func (q *Queue) syncTask(ref paysync.LinkRef, queue string) (*asynq.Task, string, error) {
	if queue == q.Options.BulkQueue() {
		return newBulkSyncTask(ref, q.Options)
	}
	t, err := NewSyncTask(ref, q.Options)
	return t, ref.TaskID(), err
}

// EnqueueInbox queues the processing of one stored provider event.
func (q *Queue) EnqueueInbox(ctx context.Context, id string) error {
	return q.enqueue(ctx, NewInboxTask(id, q.Options))
}

// EnqueueRefresh queues a scheduled re-read of one link. The task is
// dropped on completion so that the next schedule can queue it again.
func (q *Queue) EnqueueRefresh(ctx context.Context, linkID string) error {
	return q.enqueue(ctx, NewRefreshTask(linkID, q.Options))
}

// EnqueueSetupLink queues the setup link of a freshly created provider customer.
func (q *Queue) EnqueueSetupLink(ctx context.Context, ref paysync.LinkRef) error {
	return q.enqueue(ctx, NewSetupLinkTask(ref, q.Options))
}

// EnqueueDelivery queues one client webhook delivery.
func (q *Queue) EnqueueDelivery(ctx context.Context, id string, maxRetry int) error {
	return q.enqueue(ctx, NewDeliveryTask(id, maxRetry, q.Options))
}

// enqueue queues t, leaving as it is a task already queued under its TaskID.
func (q *Queue) enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error {
	_, err := q.Client.EnqueueContext(ctx, t, opts...)
	if isConflict(err) {
		return nil
	}
	return redisUnavailable(err)
}

func isConflict(err error) bool { return errors.Is(err, asynq.ErrTaskIDConflict) }

// redisUnavailable classifies a failure of the queue, other than a TaskID
// conflict, as Redis being unavailable (EUNAVAILABLE, "redis"). The tasks
// and options paysync builds always encode and validate, so what is left
// is Redis refusing or not answering; asynq flattens some of those into
// text ("redis eval error: dial tcp ..."), so they cannot be told apart
// by type.
func redisUnavailable(err error) error {
	var pe *paysync.Error
	if err == nil || isConflict(err) || errors.As(err, &pe) {
		return err
	}
	return paysync.Unavailable("redis", err)
}

// notBefore is the earliest whole second at least d from now: asynq keeps
// schedules in whole seconds and truncates, which would run a task up to a
// second before a provider's Retry-After has passed.
func notBefore(d time.Duration) time.Time {
	return time.Now().Add(d + time.Second - 1).Truncate(time.Second)
}

// idPayload is the payload of every task but the sync task: one id.
type idPayload struct {
	ID string `json:"id"`
}

// newIDTask builds a task whose payload is one id and whose TaskID keeps
// a second one out while the first exists.
func newIDTask(typ, id string, o Options, opts ...asynq.Option) *asynq.Task {
	payload, _ := json.Marshal(idPayload{ID: id}) // a struct of one string always encodes
	opts = append([]asynq.Option{asynq.TaskID(typ + ":" + id), asynq.Queue(o.DefaultQueue()), asynq.Timeout(taskTimeout)}, opts...)
	return asynq.NewTask(typ, payload, opts...)
}

func parseID(t *asynq.Task) (string, error) {
	var p idPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID == "" {
		return "", fmt.Errorf("%s task payload %q: %v: %w", t.Type(), t.Payload(), err, asynq.SkipRetry)
	}
	return p.ID, nil
}
