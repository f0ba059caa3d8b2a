package jobs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/egress"
	"github.com/paysync/paysync/internal/metrics"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/jobs"
	"github.com/paysync/paysync/store"
)

// names is a resolver whose answer a test changes.
type names struct {
	mu sync.Mutex
	ip string
}

func (n *names) set(ip string) { n.mu.Lock(); n.ip = ip; n.mu.Unlock() }

func (n *names) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return []netip.Addr{netip.MustParseAddr(n.ip)}, nil
}

// A name that resolved to a public address when the endpoint was
// registered and to loopback when the delivery dials (DNS rebinding) is
// refused at connect time, and the attempt is recorded as failed; with
// private addresses allowed the same delivery arrives.
func TestDeliveryRefusedAfterRebinding(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "paysync.db") },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			org, err := db.EnsureOrganization(ctx, "rebind")
			if err != nil {
				t.Fatal(err)
			}
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
			t.Cleanup(srv.Close)
			port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
			url := "http://hooks.example.test:" + port + "/hook"

			n := &names{}
			n.set("93.184.215.14")
			policy := egress.Policy{AllowHTTP: true, Resolver: n}
			if err := policy.CheckURL(ctx, url); err != nil {
				t.Fatalf("registration: %v", err)
			}
			e := &paysync.WebhookEndpoint{OrganizationID: org.ID, URL: url, SignatureAlgo: "hmac"}
			if err := db.AddWebhookEndpoint(ctx, e); err != nil {
				t.Fatal(err)
			}
			note := &paysync.Notification{OrganizationID: org.ID, CustomerID: "c1", WebhookType: paysync.EventCheckoutURLGenerated}
			if err := db.AddNotification(ctx, note); err != nil {
				t.Fatal(err)
			}
			d := &paysync.Delivery{OrganizationID: org.ID, EndpointID: e.ID, URL: url, WebhookType: note.WebhookType, Body: []byte(`{}`)}
			if _, err := db.DeliverNotification(ctx, note.ID, []*paysync.Delivery{d}); err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(map[string]string{"id": d.ID})
			task := asynq.NewTask(jobs.TypeDeliver, payload)

			n.set("127.0.0.1") // the name is re-pointed after registration
			deliver := &jobs.Deliverer{Deliveries: db, Endpoints: db, Client: jobs.NewDeliveryClient(policy)}
			refused := counterValue(t, metrics.WebhookDeliveries.WithLabelValues("refused"))
			if err := deliver.ProcessTask(ctx, task); err == nil || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("delivery to a rebound name: %v", err)
			}
			if d := counterValue(t, metrics.WebhookDeliveries.WithLabelValues("refused")) - refused; d < 1 {
				t.Errorf("paysync_webhook_deliveries_total{outcome=refused} grew by %v, want 1", d)
			}
			if hits.Load() != 0 {
				t.Fatal("the loopback server was reached")
			}
			ds, err := db.Deliveries(ctx, org.ID, 10)
			if err != nil || len(ds) != 1 || ds[0].Attempts != 1 || ds[0].DeliveredAt != nil || !strings.Contains(ds[0].LastError, "address_not_allowed") && !strings.Contains(ds[0].LastError, "loopback") {
				t.Fatalf("recorded attempt: %v %+v", err, ds)
			}

			policy.AllowPrivate = true
			deliver.Client = jobs.NewDeliveryClient(policy)
			if err := deliver.ProcessTask(ctx, task); err != nil {
				t.Fatalf("allowed private: %v", err)
			}
			if hits.Load() != 1 {
				t.Fatalf("%d deliveries arrived", hits.Load())
			}
		})
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
