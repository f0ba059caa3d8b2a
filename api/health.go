package api

import (
	"context"
	"net/http"
	"time"
)

// AddHealthRoutes serves GET /healthz and GET /readyz on mux: the API
// server's and the metrics listener's, which every role opens.
func AddHealthRoutes(mux *http.ServeMux, ready func(context.Context) error) {
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(ready))
}

// handleHealthz answers while the process serves HTTP at all: liveness.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 when the dependencies answer, else 503 naming
// what is down, so a load balancer stops routing to this process.
func handleReadyz(ready func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			defer cancel()
			if err := ready(ctx); err != nil {
				encode(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
				return
			}
		}
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
