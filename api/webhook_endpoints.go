package api

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/paysync/paysync"
)

// handleListWebhookEndpoints is GET /api/v1/webhook_endpoints.
func handleListWebhookEndpoints(store paysync.EndpointStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		es, err := store.WebhookEndpoints(r.Context(), organizationFrom(r.Context()).ID)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		out := make([]lagoWebhookEndpoint, 0, len(es))
		for _, e := range es {
			out = append(out, lagoEndpointView(e))
		}
		var pages int
		if len(out) > 0 {
			pages = 1
		}
		encode(w, http.StatusOK, map[string]any{"webhook_endpoints": out, "meta": map[string]any{
			"current_page": 1, "next_page": nil, "prev_page": nil, "total_pages": pages, "total_count": len(out),
		}})
	})
}

// handleWebhookEndpoint is GET and DELETE /api/v1/webhook_endpoints/{lago_id}.
func handleWebhookEndpoint(store paysync.EndpointStore, log *slog.Logger, remove bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context()).ID
		e, err := store.WebhookEndpoint(r.Context(), org, r.PathValue("lago_id"))
		if err == nil && remove {
			err = store.DeleteWebhookEndpoint(r.Context(), org, e.ID)
		}
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "webhook_endpoint"))
			return
		}
		encode(w, http.StatusOK, map[string]any{"webhook_endpoint": lagoEndpointView(e)})
	})
}

// handleHMACKey is GET /api/v1/webhooks/hmac_key: the key that signs this
// organization's client webhooks (X-Lago-Signature), which Lago shows in
// its settings page.
func handleHMACKey(store paysync.EndpointStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := store.WebhookHMACKey(r.Context(), organizationFrom(r.Context()).ID)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"webhook": map[string]string{"hmac_key": key}})
	})
}

type deliveryView struct {
	ID            string  `json:"id"`
	EndpointID    string  `json:"webhook_endpoint_id"`
	WebhookURL    string  `json:"webhook_url"`
	WebhookType   string  `json:"webhook_type"`
	Attempts      int     `json:"attempts"`
	LastStatus    int     `json:"last_http_status,omitempty"`
	LastError     string  `json:"last_error,omitempty"`
	DeliveredAt   *string `json:"delivered_at"`
	CreatedAt     string  `json:"created_at"`
	UniqueKeySent string  `json:"x_lago_unique_key"`
}

// handleDeliveries is GET /api/v1/webhook_deliveries (paysync's own): the
// organization's latest client webhook deliveries and how their attempts
// went, newest first; ?limit= up to 100.
func handleDeliveries(store paysync.DeliveryStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit <= 0 || limit > 100 {
			limit = 100
		}
		ds, err := store.Deliveries(r.Context(), organizationFrom(r.Context()).ID, limit)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		out := make([]deliveryView, 0, len(ds))
		for _, d := range ds {
			v := deliveryView{ID: d.ID, EndpointID: d.EndpointID, WebhookURL: d.URL, WebhookType: d.WebhookType,
				Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: lagoTime(d.CreatedAt), UniqueKeySent: d.ID}
			if d.DeliveredAt != nil {
				at := lagoTime(*d.DeliveredAt)
				v.DeliveredAt = &at
			}
			out = append(out, v)
		}
		encode(w, http.StatusOK, map[string]any{"webhook_deliveries": out})
	})
}
