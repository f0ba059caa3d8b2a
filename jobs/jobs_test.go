package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/providers"
	"github.com/paysync/paysync/providers/stripe"
	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/stripeemu"
	"github.com/paysync/paysync/store"
)

// rig is a store, a Stripe emulator behind a real adapter, and a real
// asynq queue on the test Redis under a queue name of its own.
type rig struct {
	db      *store.DB
	emu     *stripeemu.Emulator
	org     string
	syncer  *Syncer
	queue   *Queue
	service *paysync.Service
	opt     asynq.RedisConnOpt
}

func newRig(t *testing.T, dsn string) *rig {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	org, err := db.EnsureOrganization(ctx, testenv.RandomName("org"))
	if err != nil {
		t.Fatal(err)
	}
	emu := stripeemu.New()
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	reg, err := providers.NewRegistry([]paysync.Connection{{
		OrganizationID: org.ID, Provider: paysync.Stripe, Code: "stripe", BaseURL: hs.URL,
		Credentials: map[string]string{"secret_key": "sk_test_jobs"},
	}}, map[paysync.ProviderKind]providers.Factory{
		paysync.Stripe: func(c paysync.Connection, h *http.Client) (paysync.Provider, error) { return stripe.New(c, h) },
	}, providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opt, err := asynq.ParseRedisURI(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	client, insp := asynq.NewClient(opt), asynq.NewInspector(opt)
	t.Cleanup(func() { client.Close(); insp.Close() })
	q := &Queue{Client: client, Inspector: insp, Options: Options{Queue: testenv.RandomName("jobs"), MaxRetry: 3, RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}}
	t.Cleanup(func() {
		for _, name := range q.Options.Queues() {
			_ = insp.DeleteQueue(name, true)
		}
	})
	syncer := &Syncer{Store: db, Connections: reg}
	return &rig{db: db, emu: emu, org: org.ID, syncer: syncer, queue: q, opt: opt, service: &paysync.Service{
		Store: db, Connections: reg, Queue: q, Syncer: syncer, InlineTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
}

func dsns(t *testing.T) map[string]func() string {
	return map[string]func() string{
		"sqlite":   func() string { return filepath.Join(t.TempDir(), "jobs.db") },
		"postgres": func() string { return testenv.PostgresURL(t) },
	}
}

func (r *rig) create(t *testing.T, externalID string, b *paysync.BillingRequest) *paysync.Customer {
	t.Helper()
	c, _, err := r.service.Upsert(context.Background(), paysync.UpsertRequest{
		OrganizationID: r.org, ExternalID: externalID, Billing: b,
		Apply: func(c *paysync.Customer) { c.Name = "Jobs Test" },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func syncWith(provider paysync.ProviderKind) *paysync.BillingRequest {
	on := true
	return &paysync.BillingRequest{ProviderSet: true, Provider: provider, SyncWithProvider: &on}
}

func (r *rig) link(t *testing.T, externalID string) *paysync.ProviderLink {
	t.Helper()
	c, err := r.db.Customer(context.Background(), r.org, paysync.CustomerKey{ExternalID: externalID})
	if err != nil {
		t.Fatal(err)
	}
	return c.Link
}

// Running one generation twice (at-least-once delivery) makes one customer.
func TestSyncIsIdempotent(t *testing.T) {
	for name, dsn := range dsns(t) {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, dsn())
			c := r.create(t, "idem", syncWith(paysync.Stripe))
			ref := c.Link.Ref()
			if err := r.syncer.Sync(context.Background(), ref); err != nil {
				t.Fatal(err)
			}
			calls := r.emu.Faults.Requests()
			if err := r.syncer.Sync(context.Background(), ref); err != nil {
				t.Fatal(err)
			}
			if r.emu.Faults.Requests() != calls {
				t.Error("a repeated task of a synced link called the provider again")
			}
			l := r.link(t, "idem")
			if l.State != paysync.SyncSynced || l.ProviderCustomerID == "" {
				t.Fatalf("link %+v", l)
			}
			if n := r.emu.CustomerCount(); n != 1 {
				t.Fatalf("%d stripe customers, want 1", n)
			}
		})
	}
}

// A task of a superseded generation does nothing.
func TestStaleGenerationIsIgnored(t *testing.T) {
	r := newRig(t, filepath.Join(t.TempDir(), "jobs.db"))
	old := r.create(t, "stale", syncWith(paysync.Stripe)).Link.Ref()
	off := false
	r.create(t, "stale", &paysync.BillingRequest{ProviderSet: true, Provider: paysync.Stripe, ProviderCustomerID: "cus_given", SyncWithProvider: &off})
	before := r.emu.Faults.Requests()
	if err := r.syncer.Sync(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if r.emu.Faults.Requests() != before {
		t.Error("a stale generation called the provider")
	}
	if l := r.link(t, "stale"); l.Generation != 2 || l.State != paysync.SyncPending {
		t.Errorf("link %+v", l)
	}
}

// Through a real worker: a retryable failure is retried and then synced; a
// permanent one is archived after one attempt and stored on the link.
func TestWorkerRetriesAndArchives(t *testing.T) {
	r := newRig(t, testenv.PostgresURL(t))
	srv, mux := NewWorker(r.opt, WorkerOptions{Options: r.queue.Options, Concurrency: 4, PollInterval: 50 * time.Millisecond, ShutdownTimeout: time.Second},
		Handlers{Sync: r.syncer}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	r.emu.Faults.Set(fault.Settings{FailNext: 2, Fail: fault.ServerError, Status: 502})
	r.create(t, "flaky", syncWith(paysync.Stripe))
	waitState(t, r, "flaky", paysync.SyncSynced)
	// The adapter may spend both 502s in one attempt (a create, then the
	// search that checks whether it went through): at least one retry.
	if l := r.link(t, "flaky"); l.Attempts < 2 || l.LastError != nil || r.emu.CustomerCount() != 1 {
		t.Errorf("after two 502s: attempts %d, last error %v, %d customers", l.Attempts, l.LastError, r.emu.CustomerCount())
	}

	off := false
	c := r.create(t, "gone", &paysync.BillingRequest{ProviderSet: true, Provider: paysync.Stripe, ProviderCustomerID: "cus_nope", SyncWithProvider: &off})
	waitState(t, r, "gone", paysync.SyncFailed)
	l := r.link(t, "gone")
	if l.LastError == nil || l.LastError.Code != paysync.CodeCustomerNotFound || l.Attempts != 1 {
		t.Errorf("permanent failure: %+v / %+v", l, l.LastError)
	}
	info, err := r.queue.Inspector.GetTaskInfo(r.queue.Options.CriticalQueue(), c.Link.Ref().TaskID())
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStateArchived || info.Retried != 0 {
		t.Errorf("task state %v retried %d, want archived after one attempt", info.State, info.Retried)
	}
}

func waitState(t *testing.T, r *rig, externalID string, want paysync.SyncState) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.link(t, externalID).State != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %s: %+v", externalID, want, r.link(t, externalID))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The reconciler enqueues a link whose enqueue was lost, and replaces a task
// left archived while its link is pending.
func TestReconcilerRecoversPendingLinks(t *testing.T) {
	r := newRig(t, testenv.PostgresURL(t))
	ctx := context.Background()
	c := r.create(t, "lost", syncWith(paysync.Stripe))
	ref := c.Link.Ref()
	if err := r.queue.Inspector.DeleteTask(r.queue.Options.CriticalQueue(), ref.TaskID()); err != nil {
		t.Fatal(err)
	}
	rec := &Reconciler{Store: r.db, Queue: r.queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := rec.Pass(ctx, time.Now().Add(time.Second))
	if err != nil || n != 1 {
		t.Fatalf("pass: %d, %v", n, err)
	}
	if n, _ := rec.Pass(ctx, time.Now().Add(time.Second)); n != 0 {
		t.Errorf("a second pass re-enqueued %d: the live task must be left alone", n)
	}
	if err := r.queue.Inspector.ArchiveTask(r.queue.Options.CriticalQueue(), ref.TaskID()); err != nil {
		t.Fatal(err)
	}
	if n, err := rec.Pass(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("archived task: pass %d, %v", n, err)
	}
	info, err := r.queue.Inspector.GetTaskInfo(r.queue.Options.CriticalQueue(), ref.TaskID())
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("task after reconcile: %+v, %v", info, err)
	}
	if n, _ := rec.Pass(ctx, time.Now().Add(-time.Hour)); n != 0 {
		t.Errorf("a link pending for less than After was touched")
	}
}

func TestRetryDelay(t *testing.T) {
	o := Options{RetryBase: time.Second, RetryMax: time.Minute}
	// asynq keeps whole seconds: the delay lands on the first whole second at least 7s away.
	if d := o.RetryDelay(0, &paysync.ProviderError{Retryable: true, RetryAfter: 7 * time.Second}, nil); d < 7*time.Second-10*time.Millisecond || d > 8*time.Second {
		t.Errorf("Retry-After 7s gave %s", d)
	}
	for n := range 40 {
		d := o.RetryDelay(n, errors.New("x"), nil)
		if d <= 0 || d > time.Minute {
			t.Fatalf("retry %d: delay %s out of (0, 1m]", n, d)
		}
	}
	if d := o.RetryDelay(3, errors.New("x"), nil); d < 4*time.Second || d > 8*time.Second {
		t.Errorf("retry 3: %s, want within [4s, 8s]", d)
	}
}

// A crash between committing a sync result and delivering its client
// webhook loses nothing: the notification was committed with the result,
// and the reconciler turns it into a queued delivery.
func TestNotificationSurvivesACrash(t *testing.T) {
	r := newRig(t, testenv.PostgresURL(t))
	ctx := context.Background()
	if err := r.db.AddWebhookEndpoint(ctx, &paysync.WebhookEndpoint{OrganizationID: r.org, URL: "https://client.example/hooks", SignatureAlgo: "hmac"}); err != nil {
		t.Fatal(err)
	}
	c := r.create(t, "crash", syncWith(paysync.Stripe))
	// The worker stored its result and died before delivering.
	if ok, err := r.db.RecordSync(ctx, c.Link.Ref(), paysync.SyncResult{State: paysync.SyncSynced, ProviderCustomerID: "cus_crash",
		Notify: paysync.EventPaymentProviderCreated}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	outbox := &Outbox{Store: r.db, Notifications: r.db, Endpoints: r.db, Queue: r.queue, MaxRetry: 2, Render: func(c *paysync.Customer) any {
		return map[string]string{"external_id": c.ExternalID}
	}}
	rec := &Reconciler{Store: r.db, Inbox: r.db, Deliveries: r.db, PaymentMethods: r.db, Queue: r.queue, Outbox: outbox, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for range 2 { // twice: the second pass finds nothing left to deliver
		if _, err := rec.Pass(ctx, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := r.db.Deliveries(ctx, r.org, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v, %v", ds, err)
	}
	if !strings.Contains(string(ds[0].Body), `"webhook_type":"customer.payment_provider_created"`) || !strings.Contains(string(ds[0].Body), `"external_id":"crash"`) {
		t.Errorf("body %s", ds[0].Body)
	}
	if _, err := r.queue.Inspector.GetTaskInfo(r.queue.Options.DefaultQueue(), TypeDeliver+":"+ds[0].ID); err != nil {
		t.Errorf("the delivery was not queued: %v", err)
	}
}
