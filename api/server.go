// Package api is paysync's HTTP server: the client dialects (Lago, Lotus
// and Flexprice), API-key authentication, provider webhooks, client webhook
// endpoints, health endpoints, the asynqmon dashboard and the sandbox
// emulators.
//
// Every dialect decodes and validates its own request shape, maps it to one
// paysync.UpsertRequest, and renders the stored paysync.Customer back in its
// own response shape. Statuses are decided in one place (errors.go); each
// dialect only chooses the body.
package api

import (
	"context"
	"log/slog"
	"net/http"
	_ "time/tzdata" // timezone validation must work on machines without zoneinfo

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/egress"
)

// Deps is everything the server uses; cmd wires the real ones.
type Deps struct {
	Service *paysync.Service
	Store   paysync.Store
	Logger  *slog.Logger
	// Monitoring is the asynqmon dashboard, served behind the API keys at
	// /monitoring/ (its RootPath must be "/monitoring"); nil serves none.
	Monitoring http.Handler
	// MonitoringOrganization, when set, is the one organization whose keys
	// open the dashboard (it controls every organization's queues).
	MonitoringOrganization string
	// DashboardUsers, when set, are the operator credentials that alone
	// open the dashboard, by HTTP Basic auth: user name to the SHA-256 of
	// the password (PAYSYNC_DASHBOARD_USERS). Tenants' API keys then do not.
	DashboardUsers map[string][32]byte
	// Ready reports whether the dependencies (database, Redis) answer; its
	// error names what is down. nil means always ready.
	Ready func(context.Context) error
	// Sandbox maps a name to an in-process provider emulator, served
	// without authentication at /sandbox/{name}/ with the prefix stripped.
	Sandbox map[string]http.Handler
	// Notify stores provider webhooks in and client webhook endpoints;
	// nil serves no webhook routes.
	Notify WebhookStore
	// Inbox queues stored provider events for processing.
	Inbox Inbox
	// SandboxConnections lists every organization's sandbox connection of
	// a provider: the targets of /webhooks/sandbox/{provider}.
	SandboxConnections func(paysync.ProviderKind) []paysync.Connection
	// Egress decides which client webhook URLs may be registered.
	Egress egress.Policy
	// Runs keeps bulk sync runs; nil serves no /api/v1/sync_runs routes.
	Runs paysync.SyncRunStore
	// WebhookKeys holds the keys of JWT client webhooks, whose public
	// halves /api/v1/webhooks/public_key serves.
	WebhookKeys paysync.WebhookKeyStore
	// Portals keeps customer portal links, served at PublicURL+"/portal/".
	Portals   paysync.PortalStore
	PublicURL string
}

// WebhookStore is what the webhook routes store: provider events in (the
// inbox), client webhook endpoints and deliveries out.
type WebhookStore interface {
	paysync.InboxStore
	paysync.EndpointStore
	paysync.DeliveryStore
}

// NewServer returns the HTTP handler serving every route.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	auth := newAuthenticator(d.Store)
	mux := http.NewServeMux()
	addRoutes(mux, d, auth)
	var h http.Handler = mux
	h = recoverPanics(d.Logger, h)
	// A failure's cause goes on the request's own log line (see logFailure).
	h = logRequests(slog.New(noteHandler{d.Logger.Handler()}), h)
	h = withFailureNotes(h)
	return h
}
