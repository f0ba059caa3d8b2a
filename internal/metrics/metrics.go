// Package metrics holds paysync's Prometheus collectors. Labels name
// routes, providers, operations, outcomes and queues only: never a
// customer, an email, an external id or a key.
package metrics

import (
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every paysync collector, and the Go runtime's and the
// process's.
var Registry = prometheus.NewRegistry()

var (
	HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paysync_http_requests_total", Help: "HTTP requests by route template, method and status.",
	}, []string{"route", "method", "status"})
	HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "paysync_http_request_duration_seconds", Help: "HTTP request latency by route template.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})

	SyncOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paysync_sync_outcomes_total", Help: "Sync attempts by provider and result (synced, failed, retry, skipped).",
	}, []string{"provider", "result"})

	ProviderCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "paysync_provider_call_duration_seconds", Help: "Provider calls by provider, operation and outcome (ok or an error code).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"provider", "operation", "outcome"})
	ProviderErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paysync_provider_errors_total", Help: "Failed provider calls by provider, operation and error code.",
	}, []string{"provider", "operation", "code"})
	RateLimitWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "paysync_rate_limit_wait_seconds", Help: "Time a provider call waited for its connection's rate limit.",
		Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"provider"})

	ReconcilerRequeued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paysync_reconciler_requeued_total", Help: "Work the reconciler queued again, by kind (sync, inbox, notification, delivery, refresh).",
	}, []string{"kind"})
	WebhookDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paysync_webhook_deliveries_total", Help: "Client webhook delivery attempts by outcome (delivered, failed, refused).",
	}, []string{"outcome"})
	InboxLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "paysync_inbox_lag_seconds", Help: "Time from a provider webhook's receipt to its processing.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})

	SyncRunItems = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paysync_sync_run_items_total", Help: "Customers finished by sync runs and imports, by mode and outcome.",
	}, []string{"mode", "outcome"})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		HTTPRequests, HTTPDuration, SyncOutcomes, ProviderCalls, ProviderErrors, RateLimitWait,
		ReconcilerRequeued, WebhookDeliveries, InboxLag, SyncRunItems)
}

// Handler serves the process-wide Registry and the collectors of one App
// (its queues and sync runs) in Prometheus's text format. The App's
// collectors get a registry of their own, so that several Apps in one
// process (the tests) each export their own without registering twice.
func Handler(perApp ...prometheus.Collector) http.Handler {
	own := prometheus.NewRegistry()
	for _, c := range perApp {
		own.MustRegister(c)
	}
	g := prometheus.Gatherers{Registry, own}
	// A collector that fails (Redis down) drops its families, not the scrape.
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Families is every metric family name paysync exports (a histogram by
// its base name), for checks such as the dashboard's: a vector with no
// sample yet is listed too.
func Families() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		Registry.Describe(ch)
		QueueCollector(nil).Describe(ch)
		SyncRunCollector(nil).Describe(ch)
		close(ch)
	}()
	var names []string
	for d := range ch {
		// Desc has no accessor for its name; its String form is stable.
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// ObserveProviderCall records one provider call; code is "" on success.
func ObserveProviderCall(provider, operation, code string, took time.Duration) {
	outcome := "ok"
	if code != "" {
		outcome = "error"
		ProviderErrors.WithLabelValues(provider, operation, code).Inc()
	}
	ProviderCalls.WithLabelValues(provider, operation, outcome).Observe(took.Seconds())
}
