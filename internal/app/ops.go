package app

import (
	"net/http"

	"github.com/paysync/paysync/api"
	"github.com/paysync/paysync/internal/metrics"
)

// OpsHandler serves /metrics, /healthz and /readyz: the metrics listener
// (PAYSYNC_METRICS_ADDR) of every role, the worker's included, never the
// public API port. The health handlers are the API's own. The queue and
// sync run collectors read this App's Redis and database at scrape time.
func (a *App) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	api.AddHealthRoutes(mux, a.Ready)
	mux.Handle("GET /metrics", metrics.Handler(
		metrics.QueueCollector(a.Queue.Inspector, a.Queue.Options.Queues()...),
		metrics.SyncRunCollector(a.DB),
	))
	return mux
}
