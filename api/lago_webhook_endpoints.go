package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/egress"
)

type lagoWebhookEndpoint struct {
	LagoID             string   `json:"lago_id"`
	LagoOrganizationID string   `json:"lago_organization_id"`
	WebhookURL         string   `json:"webhook_url"`
	SignatureAlgo      string   `json:"signature_algo"`
	Name               *string  `json:"name"`
	EventTypes         []string `json:"event_types"`
	CreatedAt          string   `json:"created_at"`
}

// lagoEndpointView is Lago's webhook endpoint serializer: name and
// event_types are null when unset.
func lagoEndpointView(e *paysync.WebhookEndpoint) lagoWebhookEndpoint {
	v := lagoWebhookEndpoint{LagoID: e.ID, LagoOrganizationID: e.OrganizationID, WebhookURL: e.URL,
		SignatureAlgo: e.SignatureAlgo, EventTypes: e.EventTypes, CreatedAt: lagoTime(e.CreatedAt)}
	if e.Name != "" {
		v.Name = &e.Name
	}
	return v
}

// lagoEndpointInput is the webhook_endpoint object of a create or update;
// a nil field was not sent.
type lagoEndpointInput struct {
	URL           json.RawMessage `json:"webhook_url"`
	SignatureAlgo json.RawMessage `json:"signature_algo"`
	Name          json.RawMessage `json:"name"`
	EventTypes    json.RawMessage `json:"event_types"`
}

func decodeEndpointInput(w http.ResponseWriter, r *http.Request) (*lagoEndpointInput, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	var in struct {
		Endpoint *lagoEndpointInput `json:"webhook_endpoint"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badRequest("malformed JSON")
	}
	if in.Endpoint == nil {
		return nil, badRequest("param is missing or the value is empty: webhook_endpoint")
	}
	return in.Endpoint, nil
}

// apply validates the fields sent and sets them on e, as Lago's create and
// update services do: on create an absent signature_algo is jwt.
func (in *lagoEndpointInput) apply(ctx context.Context, e *paysync.WebhookEndpoint, create bool, policy egress.Policy, v paysync.Validation) {
	if in.URL != nil || create {
		var u string
		if !decodeString(in.URL, &u) {
			v.Add("webhook_url", "value_is_invalid")
		} else if u == "" {
			v.Add("webhook_url", "value_is_mandatory")
		} else if !validHTTPURL(u) {
			v.Add("webhook_url", reasonURL)
		} else if reason := checkEgress(ctx, policy, u); reason != "" {
			v.Add("webhook_url", reason)
		} else {
			e.URL = u
		}
	}
	if in.SignatureAlgo != nil || create {
		var a string
		switch {
		case !decodeString(in.SignatureAlgo, &a):
			v.Add("signature_algo", "value_is_invalid")
		case a == "" && create:
			e.SignatureAlgo = paysync.SignatureJWT
		case a == "":
			v.Add("signature_algo", "value_is_mandatory")
		case a == paysync.SignatureJWT || a == paysync.SignatureHMAC:
			e.SignatureAlgo = a
		default:
			v.Add("signature_algo", "value_is_invalid")
		}
	}
	if in.Name != nil && !decodeString(in.Name, &e.Name) {
		v.Add("name", "value_is_invalid")
	}
	if in.EventTypes != nil {
		types, reason := eventTypes(in.EventTypes)
		if reason != "" {
			v.Add("event_types", reason)
		} else {
			e.EventTypes = types
		}
	}
}

// decodeString reads a JSON string; null or absent is "".
func decodeString(raw json.RawMessage, dst *string) bool {
	*dst = ""
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return true
	}
	return json.Unmarshal(raw, dst) == nil
}

// eventTypes normalises event_types as Lago's model does (trimmed, lower
// case, blanks and repeats dropped, ["*"] is every type) and checks each
// is a known type; null or [] is every type. reason is Lago's error.
func eventTypes(raw json.RawMessage) (types []string, reason string) {
	if bytes.Equal(raw, []byte("null")) {
		return nil, ""
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, "must_be_array"
	}
	seen := map[string]bool{}
	var invalid []string
	for _, item := range items {
		var s string
		if json.Unmarshal(item, &s) != nil {
			s = string(item) // Lago calls to_s on a number or boolean
		}
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" || s == "null" || seen[s] {
			continue
		}
		seen[s] = true
		types = append(types, s)
		if !lagoEventTypes[s] && s != "*" {
			invalid = append(invalid, s)
		}
	}
	if len(types) == 1 && types[0] == "*" {
		return nil, ""
	}
	if len(invalid) > 0 {
		sort.Strings(invalid)
		// Lago interpolates the Ruby array: ["a", "b"].
		quoted, _ := json.Marshal(invalid)
		return nil, "contains invalid types: " + strings.ReplaceAll(string(quoted), `","`, `", "`)
	}
	return types, ""
}

// handleCreateWebhookEndpoint is POST /api/v1/webhook_endpoints.
func handleCreateWebhookEndpoint(store paysync.EndpointStore, policy egress.Policy, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decodeEndpointInput(w, r)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		v := paysync.Validation{}
		e := &paysync.WebhookEndpoint{OrganizationID: organizationFrom(r.Context()).ID}
		in.apply(r.Context(), e, true, policy, v)
		if err := v.Err(); err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		if err := store.AddWebhookEndpoint(r.Context(), e); err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"webhook_endpoint": lagoEndpointView(e)})
	})
}

// handleUpdateWebhookEndpoint is PUT /api/v1/webhook_endpoints/{lago_id}:
// the fields sent change, the others stay.
func handleUpdateWebhookEndpoint(store paysync.EndpointStore, policy egress.Policy, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decodeEndpointInput(w, r)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		e, err := store.WebhookEndpoint(r.Context(), organizationFrom(r.Context()).ID, r.PathValue("lago_id"))
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "webhook_endpoint"))
			return
		}
		v := paysync.Validation{}
		in.apply(r.Context(), e, false, policy, v)
		if err := v.Err(); err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		if err := store.UpdateWebhookEndpoint(r.Context(), e); err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "webhook_endpoint"))
			return
		}
		encode(w, http.StatusOK, map[string]any{"webhook_endpoint": lagoEndpointView(e)})
	})
}
