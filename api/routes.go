package api

import "net/http"

// addRoutes is the server's whole surface, in one place.
func addRoutes(mux *http.ServeMux, d Deps, auth *authenticator) {
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Ready))

	if d.Monitoring != nil {
		// Trailing slash: asynqmon serves its SPA and API below its root.
		mux.Handle("/monitoring/", requireDashboardKey(auth, d.Logger, d.Monitoring))
	}
	for name, h := range d.Sandbox {
		prefix := "/sandbox/" + name
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}

	// Lago: https://getlago.com/docs/api-reference/customers
	lago := func(h http.Handler) http.Handler { return authenticate(auth, lagoDialect, d.Logger, h) }
	mux.Handle("POST /api/v1/customers", lago(handleLagoUpsert(d.Service, d.Logger)))
	mux.Handle("GET /api/v1/customers", lago(handleLagoList(d.Store, d.Logger)))
	mux.Handle("GET /api/v1/customers/{external_id}", lago(handleLagoGet(d.Store, d.Logger)))
	mux.Handle("DELETE /api/v1/customers/{external_id}", lago(handleLagoDelete(d.Store, d.Logger)))
	// paysync's own addition to the Lago surface: start a new sync
	// generation (after a permanent failure, or to re-read payment methods).
	mux.Handle("POST /api/v1/customers/{external_id}/resync", lago(handleLagoResync(d.Service, d.Logger)))
	// Rails answers an unknown route before authenticating; so do we.
	mux.Handle("/api/v1/", handleNotFound(lagoDialect, d.Logger))
}
