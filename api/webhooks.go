package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/paysync/paysync"
)

// SetupDonePath is where setup pages send the end customer when a
// connection names no return_url of its own.
const SetupDonePath = "/setup/done"

func handleSetupDone() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>Done</title><p>Your payment method is saved. You can close this page.</p>\n")
	})
}

// LagoCustomer is the customer object client webhooks carry: the same JSON
// as Lago's customer endpoints answer.
func LagoCustomer(c *paysync.Customer) any { return lagoCustomerView(c) }

// Inbox queues the processing of stored provider events.
type Inbox interface {
	EnqueueInbox(ctx context.Context, id string) error
}

// handleProviderWebhook is POST /webhooks/{provider}/{organization}/{code}:
// verify the provider's signature, store the events (deduplicated by the
// provider's event id) and answer at once; a job re-reads the provider.
// The sandbox route has no organization: sandbox emulators are shared, so
// an event is stored for every organization's sandbox connection.
func handleProviderWebhook(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns, recv := webhookTarget(d, r)
		if recv == nil {
			http.NotFound(w, r)
			return
		}
		if challenge := r.URL.Query().Get("bt_challenge"); r.Method == http.MethodGet && challenge != "" {
			if c, ok := recv.(interface{ WebhookChallenge(string) string }); ok {
				// An answer is a signature: the adapter refuses to sign
				// anything but a well-formed challenge.
				answer := c.WebhookChallenge(challenge)
				if answer == "" {
					http.Error(w, "invalid challenge", http.StatusBadRequest)
					return
				}
				_, _ = io.WriteString(w, answer)
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			http.Error(w, "the request body could not be read", http.StatusRequestEntityTooLarge)
			return
		}
		events, err := recv.VerifyWebhook(r.Header, body, time.Now())
		if err != nil {
			d.Logger.Warn("provider webhook rejected", "provider", conns[0].Provider, "signature_error", errors.Is(err, paysync.ErrWebhookSignature))
			answerWebhook(w, recv, err)
			return
		}
		var inbox []paysync.InboxEvent
		for _, conn := range conns {
			for _, ev := range events {
				if ev.ProviderCustomerID == "" && ev.ResourceID == "" {
					continue // about nothing paysync mirrors
				}
				inbox = append(inbox, paysync.InboxEvent{
					OrganizationID: conn.OrganizationID, Provider: conn.Provider, ConnectionCode: conn.Code,
					EventID: ev.ID, Type: ev.Type, ProviderCustomerID: ev.ProviderCustomerID, ResourceID: ev.ResourceID,
				})
			}
		}
		fresh, err := d.Notify.AddInboxEvents(r.Context(), inbox)
		if err != nil {
			// Not stored: the provider must send it again.
			d.Logger.Error("provider webhook not stored", "provider", conns[0].Provider, "err", err)
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		for _, ev := range fresh {
			if err := d.Inbox.EnqueueInbox(r.Context(), ev.ID); err != nil {
				d.Logger.Warn("provider event stored but not queued; the reconciler will", "inbox_id", ev.ID, "err", err)
			}
		}
		answerWebhook(w, recv, nil)
	})
}

func answerWebhook(w http.ResponseWriter, recv paysync.WebhookReceiver, err error) {
	status, body := recv.WebhookAnswer(err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// webhookTarget finds the connections a webhook route names and the
// receiver that verifies it.
func webhookTarget(d Deps, r *http.Request) ([]paysync.Connection, paysync.WebhookReceiver) {
	kind, ok := paysync.ParseProviderKind(r.PathValue("provider"))
	if !ok {
		return nil, nil
	}
	var conns []paysync.Connection
	if org := r.PathValue("organization"); org != "" {
		for _, c := range d.Service.Connections.List(org, kind) {
			if c.Code == r.PathValue("code") {
				conns = append(conns, c)
			}
		}
	} else if d.SandboxConnections != nil {
		conns = d.SandboxConnections(kind)
	}
	if len(conns) == 0 {
		return nil, nil
	}
	p, err := d.Service.Connections.Provider(conns[0].OrganizationID, kind, conns[0].Code)
	if err != nil {
		return nil, nil
	}
	recv, _ := p.(paysync.WebhookReceiver)
	return conns, recv
}

type lagoCheckoutURL struct {
	LagoCustomerID      string `json:"lago_customer_id"`
	ExternalCustomerID  string `json:"external_customer_id"`
	PaymentProvider     string `json:"payment_provider"`
	PaymentProviderCode string `json:"payment_provider_code"`
	CheckoutURL         string `json:"checkout_url"`
}

// handleLagoCheckoutURL is POST /api/v1/customers/{external_id}/checkout_url.
func handleLagoCheckoutURL(svc *paysync.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		c, url, err := svc.CheckoutURL(r.Context(), org.ID, r.PathValue("external_id"))
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "customer"))
			return
		}
		encode(w, http.StatusOK, map[string]lagoCheckoutURL{"customer": {
			LagoCustomerID: c.ID, ExternalCustomerID: c.ExternalID,
			PaymentProvider: string(c.Link.Provider), PaymentProviderCode: c.Link.ConnectionCode, CheckoutURL: url,
		}})
	})
}

// handleListWebhookEndpoints is GET /api/v1/webhook_endpoints.
func handleListWebhookEndpoints(store paysync.NotifyStore, log *slog.Logger) http.Handler {
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
func handleWebhookEndpoint(store paysync.NotifyStore, log *slog.Logger, remove bool) http.Handler {
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
func handleHMACKey(store paysync.NotifyStore, log *slog.Logger) http.Handler {
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
func handleDeliveries(store paysync.NotifyStore, log *slog.Logger) http.Handler {
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
