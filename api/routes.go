package api

import (
	"net/http"

	"github.com/paysync/paysync"
)

// addRoutes is the server's whole surface, in one place.
func addRoutes(mux *http.ServeMux, d Deps, auth *authenticator) {
	AddHealthRoutes(mux, d.Ready)
	mux.Handle("GET "+SetupDonePath, handleSetupDone())

	if d.Monitoring != nil {
		// Trailing slash: asynqmon serves its SPA and API below its root.
		guard := requireDashboardKey(auth, d.MonitoringOrganization, d.Logger, d.Monitoring)
		if len(d.DashboardUsers) > 0 {
			guard = requireOperator(d.DashboardUsers, d.Logger, d.Monitoring)
		}
		mux.Handle("/monitoring/", guard)
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
	mux.Handle("POST /api/v1/customers/{external_id}/checkout_url", lago(handleLagoCheckoutURL(d.Service, d.Logger)))
	if d.Runs != nil {
		// paysync's own: bulk resyncs, refreshes and link_missing runs.
		mux.Handle("POST /api/v1/sync_runs", lago(handleCreateSyncRun(d.Service, d.Logger)))
		mux.Handle("GET /api/v1/sync_runs", lago(handleListSyncRuns(d.Runs, d.Logger)))
		mux.Handle("GET /api/v1/sync_runs/{id}", lago(handleSyncRun(d.Runs, d.Logger)))
		mux.Handle("GET /api/v1/sync_runs/{id}/items", lago(handleImportItems(d.Runs, d.Logger)))
		mux.Handle("POST /api/v1/sync_runs/{id}/pause", lago(handleSyncRunState(d.Runs, d.Logger, paysync.RunPaused, paysync.RunRunning)))
		mux.Handle("POST /api/v1/sync_runs/{id}/resume", lago(handleSyncRunState(d.Runs, d.Logger, paysync.RunRunning, paysync.RunPaused)))
		mux.Handle("POST /api/v1/sync_runs/{id}/cancel", lago(handleSyncRunState(d.Runs, d.Logger, paysync.RunCancelled, paysync.RunRunning, paysync.RunPaused)))
	}
	if d.Notify != nil {
		mux.Handle("POST /api/v1/webhook_endpoints", lago(handleCreateWebhookEndpoint(d.Notify, d.Egress, d.Logger)))
		mux.Handle("GET /api/v1/webhook_endpoints", lago(handleListWebhookEndpoints(d.Notify, d.Logger)))
		mux.Handle("GET /api/v1/webhook_endpoints/{lago_id}", lago(handleWebhookEndpoint(d.Notify, d.Logger, false)))
		mux.Handle("DELETE /api/v1/webhook_endpoints/{lago_id}", lago(handleWebhookEndpoint(d.Notify, d.Logger, true)))
		mux.Handle("PUT /api/v1/webhook_endpoints/{lago_id}", lago(handleUpdateWebhookEndpoint(d.Notify, d.Egress, d.Logger)))
		mux.Handle("GET /api/v1/webhooks/hmac_key", lago(handleHMACKey(d.Notify, d.Logger)))
		// paysync's own: every client webhook delivery and its attempts.
		mux.Handle("GET /api/v1/webhook_deliveries", lago(handleDeliveries(d.Notify, d.Logger)))

		// Provider webhooks: authenticated by the provider's signature, not a key.
		mux.Handle("POST /webhooks/{provider}/{organization}/{code}", handleProviderWebhook(d))
		mux.Handle("GET /webhooks/{provider}/{organization}/{code}", handleProviderWebhook(d)) // Braintree's challenge
		mux.Handle("POST /webhooks/sandbox/{provider}", handleProviderWebhook(d))
	}
	if d.WebhookKeys != nil {
		mux.Handle("GET /api/v1/webhooks/public_key", lago(handlePublicKey(d.WebhookKeys, d.Logger)))
		mux.Handle("GET /api/v1/webhooks/json_public_key", lago(handleJSONPublicKey(d.WebhookKeys, d.Logger)))
	}
	if d.Portals != nil {
		mux.Handle("GET /api/v1/customers/{external_id}/portal_url", lago(handlePortalURL(d, d.Logger)))
		// The portal page: its token is its authentication.
		mux.Handle("GET "+portalPath+"{token}", handlePortal(d))
		mux.Handle("POST "+portalPath+"{token}/setup", handlePortalSetup(d))
	}
	// Rails answers an unknown route before authenticating; so do we.
	mux.Handle("/api/v1/", handleNotFound(lagoDialect, d.Logger))

	// Lotus: https://docs.uselotus.io/api-reference/customers. {$} keeps a
	// trailing-slash pattern from matching every path below it.
	lotus := func(h http.Handler) http.Handler { return authenticateLotus(auth, d.Logger, h) }
	mux.Handle("POST /api/customers/{$}", lotus(handleLotusCreate(d.Service, d.Logger)))
	// Django would redirect a POST without the slash; clients send both.
	mux.Handle("POST /api/customers", lotus(handleLotusCreate(d.Service, d.Logger)))
	mux.Handle("GET /api/customers/{$}", lotus(handleLotusList(d.Store, d.Logger)))
	mux.Handle("GET /api/customers/{customer_id}/{$}", lotus(handleLotusGet(d.Store, d.Logger)))
	mux.Handle("POST /api/customers/{customer_id}/delete/{$}", lotus(handleLotusDelete(d.Store, d.Logger)))
	// Django answers an unknown route before authenticating; so do we.
	mux.Handle("/api/customers/", handleNotFound(lotusDialect, d.Logger))

	// Flexprice: https://docs.flexprice.io/api-reference/customers. An
	// unknown route gets the mux's plain-text 404, as gin's NoRoute answers.
	flexprice := func(h http.Handler) http.Handler { return authenticate(auth, flexpriceDialect, d.Logger, h) }
	mux.Handle("POST /v1/customers", flexprice(handleFlexpriceCreate(d.Service, d.Logger)))
	mux.Handle("GET /v1/customers", flexprice(handleFlexpriceList(d.Store, d.Logger)))
	mux.Handle("PUT /v1/customers", flexprice(handleFlexpriceUpdate(d.Store, d.Logger)))
	mux.Handle("POST /v1/customers/search", flexprice(handleFlexpriceSearch(d.Store, d.Logger)))
	mux.Handle("GET /v1/customers/{id}", flexprice(handleFlexpriceGet(d.Store, d.Logger)))
	mux.Handle("PUT /v1/customers/{id}", flexprice(handleFlexpriceUpdate(d.Store, d.Logger)))
	mux.Handle("DELETE /v1/customers/{id}", flexprice(handleFlexpriceDelete(d.Store, d.Logger)))
	mux.Handle("GET /v1/customers/external/{external_id}", flexprice(handleFlexpriceGetExternal(d.Store, d.Logger, "external_id")))
	// The peer's legacy alias of the external-id lookup.
	mux.Handle("GET /v1/customers/lookup/{lookup_key}", flexprice(handleFlexpriceGetExternal(d.Store, d.Logger, "lookup_key")))
}
