package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/paysync/paysync"
)

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
			logFailure(r, d.Logger, http.StatusServiceUnavailable, fmt.Errorf("provider webhook of %s not stored: %w", conns[0].Provider, err))
			setRetryAfter(w)
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
