package jobs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/metrics"
)

// TypeSync is the task type of the customer sync job.
const TypeSync = "customer:sync"

// NewSyncTask builds the task for one link generation, on the critical
// queue. Its payload holds ids only: nothing personal or secret ever
// reaches Redis.
func NewSyncTask(ref paysync.LinkRef, o Options) (*asynq.Task, error) {
	payload, err := json.Marshal(ref)
	if err != nil {
		return nil, err
	}
	opts := []asynq.Option{asynq.TaskID(ref.TaskID()), asynq.Queue(o.CriticalQueue()), asynq.MaxRetry(o.MaxRetry), asynq.Timeout(taskTimeout)}
	if o.Retention > 0 {
		opts = append(opts, asynq.Retention(o.Retention))
	}
	return asynq.NewTask(TypeSync, payload, opts...), nil
}

// newBulkSyncTask is the sync task of one link generation in a sync run,
// built small because a run keeps a window of them pending per
// connection. When the link id is a UUID (every id paysync makes), the
// payload is empty and the TaskID alone names the link generation in
// about 25 bytes: the encoded task then stays within the 64 bytes up to
// which Redis keeps asynq's task hash in its compact listpack encoding,
// about half the memory of a hash table. Any other id gets the payload
// of NewSyncTask. The tasks are not kept once completed: the run's items
// already keep each customer to one generation per run.
func newBulkSyncTask(ref paysync.LinkRef, o Options) (t *asynq.Task, taskID string, err error) {
	opts := []asynq.Option{asynq.Queue(o.BulkQueue()), asynq.MaxRetry(o.MaxRetry), asynq.Timeout(taskTimeout)}
	if u, err := uuid.Parse(ref.ID); err == nil && ref.ID == u.String() {
		taskID = base64.RawURLEncoding.EncodeToString(u[:]) + ":" + strconv.Itoa(ref.Generation)
		return asynq.NewTask(TypeSync, nil, append(opts, asynq.TaskID(taskID))...), taskID, nil
	}
	payload, err := json.Marshal(ref)
	if err != nil {
		return nil, "", err
	}
	return asynq.NewTask(TypeSync, payload, append(opts, asynq.TaskID(ref.TaskID()))...), ref.TaskID(), nil
}

// parseSyncTask reads the link generation of a sync task: from its payload,
// or from its TaskID when the payload is empty (newBulkSyncTask).
func parseSyncTask(ctx context.Context, t *asynq.Task) (paysync.LinkRef, error) {
	var ref paysync.LinkRef
	if len(t.Payload()) == 0 {
		id, _ := asynq.GetTaskID(ctx)
		if ref, ok := parseBulkTaskID(id); ok {
			return ref, nil
		}
		return ref, fmt.Errorf("sync task %q: no payload and not a link generation: %w", id, asynq.SkipRetry)
	}
	if err := json.Unmarshal(t.Payload(), &ref); err != nil || ref.ID == "" {
		return ref, fmt.Errorf("sync task payload %q: %v: %w", t.Payload(), err, asynq.SkipRetry)
	}
	return ref, nil
}

// parseBulkTaskID reverses the TaskID of newBulkSyncTask.
func parseBulkTaskID(id string) (paysync.LinkRef, bool) {
	enc, gen, ok := strings.Cut(id, ":")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err != nil {
		return paysync.LinkRef{}, false
	}
	u, err := uuid.FromBytes(raw)
	n, err2 := strconv.Atoi(gen)
	if err != nil || err2 != nil {
		return paysync.LinkRef{}, false
	}
	return paysync.LinkRef{ID: u.String(), Generation: n}, true
}

// Syncer creates or links one customer at its provider and stores the
// outcome. It implements paysync.Syncer (inline runs) and asynq.Handler
// (background runs); both run the same code.
type Syncer struct {
	Store       paysync.Store
	Connections paysync.Connections
	// Outbox, when set, delivers the notifications recorded with the
	// outcomes (created customers, permanent failures) right away.
	Outbox *Outbox
	// Queue, when set, takes the setup-link task of connections that
	// generate one on creation.
	Queue  *Queue
	Logger *slog.Logger
}

var _ paysync.Syncer = (*Syncer)(nil)

// Sync implements paysync.Syncer for inline runs: a retryable failure leaves
// the link pending for the background job.
func (s *Syncer) Sync(ctx context.Context, ref paysync.LinkRef) error {
	return s.attempt(ctx, ref, false)
}

// ProcessTask implements asynq.Handler. Permanent failures skip the
// remaining retries; the last retry marks the link failed.
func (s *Syncer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	ref, err := parseSyncTask(ctx, t)
	if err != nil {
		return err
	}
	retry, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	err = s.attempt(ctx, ref, ok1 && ok2 && retry >= maxRetry)
	if err != nil && !paysync.IsRetryable(err) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// attempt is one try at the link's current generation. It is idempotent:
// the provider call carries the generation's idempotency key, and a link
// that moved on (synced, superseded, deleted) is left alone.
func (s *Syncer) attempt(ctx context.Context, ref paysync.LinkRef, final bool) error {
	c, err := s.Store.LinkCustomer(ctx, ref.ID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil // the customer was deleted
	}
	if err != nil {
		return err // a store error: retry
	}
	l := c.Link
	// A failed link of the same generation is retried too: that is an
	// operator pressing "run" on the archived task in asynqmon.
	if l.Generation != ref.Generation || l.State == paysync.SyncSynced || l.State == paysync.SyncNone {
		outcome(l.Provider, "skipped")
		return nil
	}
	p, err := s.Connections.Provider(c.OrganizationID, l.Provider, l.ConnectionCode)
	if err != nil {
		outcome(l.Provider, "failed")
		pe := &paysync.ProviderError{Provider: l.Provider, Code: "connection_not_found", Message: err.Error()}
		return s.record(ctx, c, ref, paysync.SyncResult{State: paysync.SyncFailed, Error: pe}, pe)
	}
	// Creating returns the status with the customer (one call on the happy
	// path); linking verifies the given id and reads it.
	pc := paysync.ProviderCustomer{ID: l.ProviderCustomerID}
	if l.LinkOnly {
		pc.CustomerStatus, err = p.CustomerStatus(paysync.WithOperation(ctx, OpCustomerStatus), pc.ID)
	} else {
		pc, err = p.CreateCustomer(paysync.WithOperation(ctx, OpCreateCustomer),
			paysync.CreateCustomerRequest{Customer: c, Link: l, IdempotencyKey: l.IdempotencyKey()})
	}
	if err != nil {
		pe := paysync.AsProviderError(l.Provider, err)
		state, result := paysync.SyncPending, "retry"
		if !pe.Retryable || final {
			state, result = paysync.SyncFailed, "failed"
		}
		outcome(l.Provider, result)
		return s.record(ctx, c, ref, paysync.SyncResult{State: state, ProviderCustomerID: pc.ID, Error: pe}, pe)
	}
	outcome(l.Provider, "synced")
	return s.record(ctx, c, ref, paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: pc.ID, HasPaymentMethod: pc.HasPaymentMethod}, nil)
}

// Provider operations, the operation label of the provider call metrics.
const (
	OpCreateCustomer = "create_customer"
	OpCustomerStatus = "customer_status"
	OpEventCustomer  = "event_customer"
)

// outcome counts one sync attempt's result (synced, failed, retry or
// skipped) by provider: paysync_sync_outcomes_total.
func outcome(kind paysync.ProviderKind, result string) {
	metrics.SyncOutcomes.WithLabelValues(string(kind), result).Inc()
}

// record stores the outcome; a store failure is retryable, so the provider
// work is repeated (idempotently) rather than lost.
func (s *Syncer) record(ctx context.Context, c *paysync.Customer, ref paysync.LinkRef, r paysync.SyncResult, pe *paysync.ProviderError) error {
	// The outcome must be stored even when the attempt's deadline is what
	// failed it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	r.Notify = webhookFor(c.Link, r)
	applied, err := s.Store.RecordSync(ctx, ref, r)
	if err != nil {
		return fmt.Errorf("record sync of link %s: %w", ref.ID, err)
	}
	// Only the run that moved the link announces it: a duplicate run of
	// the same generation finds nothing to apply.
	if applied {
		s.announce(ctx, c, r)
	}
	if pe != nil {
		return pe
	}
	return nil
}

// webhookFor is the client webhook a sync outcome announces, "" for none.
// It is recorded with the outcome, in one transaction.
func webhookFor(l *paysync.ProviderLink, r paysync.SyncResult) string {
	switch {
	case r.State == paysync.SyncSynced && l.LinkOnly && r.HasPaymentMethod != l.HasPaymentMethod:
		// A re-sync read a change the webhooks had not told.
		return paysync.EventPaymentMethodUpdated
	case r.State == paysync.SyncSynced && !l.LinkOnly:
		return paysync.EventPaymentProviderCreated
	case r.State == paysync.SyncFailed:
		return paysync.EventPaymentProviderError
	}
	return ""
}

// announce delivers the notification recorded with the outcome, and queues
// the setup link of connections that want one. Failures are logged: the
// notification is stored, and the reconciler delivers what is left.
func (s *Syncer) announce(ctx context.Context, c *paysync.Customer, r paysync.SyncResult) {
	l := c.Link
	if r.Notify == paysync.EventPaymentProviderCreated && s.Queue != nil && s.setupLinkOnCreate(c) {
		if err := s.Queue.EnqueueSetupLink(ctx, l.Ref()); err != nil {
			s.Logger.Warn("setup link not queued", "link_id", l.ID, "err", err)
		}
	}
	if s.Outbox == nil || r.Notify == "" {
		return
	}
	if err := s.Outbox.FlushCustomer(ctx, c.ID); err != nil {
		s.Logger.Warn("client webhook not delivered yet; the reconciler will", "customer_id", c.ID, "webhook_type", r.Notify, "err", err)
	}
}

func (s *Syncer) setupLinkOnCreate(c *paysync.Customer) bool {
	for _, conn := range s.Connections.List(c.OrganizationID, c.Link.Provider) {
		if conn.Code == c.Link.ConnectionCode {
			return conn.SetupLinkOnCreate
		}
	}
	return false
}
