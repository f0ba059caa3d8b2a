package api

import (
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/paysync/paysync"
)

// flexpriceDialect is Flexprice's API key (x-api-key) and error shapes
// (internal/errors.ErrorResponse, written by its ErrorHandler middleware).
var flexpriceDialect = dialect{key: flexpriceKey, writeError: writeFlexpriceError}

// flexpriceKey reads "x-api-key: <key>", the header Flexprice's
// AuthenticateMiddleware reads (its cfg.Auth.APIKey.Header default).
func flexpriceKey(r *http.Request) string { return strings.TrimSpace(r.Header.Get("x-api-key")) }

// Flexprice's error codes (internal/errors, the spec's errors.ErrorCode).
const (
	flexpriceCodeValidation  = "validation_error"
	flexpriceCodeNotFound    = "not_found"
	flexpriceCodeExists      = "already_exists"
	flexpriceCodeInternal    = "internal_error"
	flexpriceCodeUnavailable = "service_unavailable"
)

// flexpriceError is two error shapes in one body, so that consumers of
// either read it. code, message, http_status_code and details are the
// flat errors.ErrorResponse Flexprice's server writes today (the spec
// lists the first three; details are the per-field problems, field name
// -> reason). success and error are the envelope @flexprice/sdk 2.0.1
// parses (errors.ErrorResponse of the peer's earlier servers): its typed
// error takes its message from error.message, and its schema requires
// both keys to be present.
type flexpriceError struct {
	Code           string               `json:"code"`
	Message        string               `json:"message"`
	HTTPStatusCode int                  `json:"http_status_code"`
	Details        map[string]any       `json:"details,omitempty"`
	Success        bool                 `json:"success"`
	Error          flexpriceErrorDetail `json:"error"`
}

// flexpriceErrorDetail is the SDK envelope's error. internal_error held the
// peer's internal error text; paysync never sends internal text, so it
// repeats the client-safe message.
type flexpriceErrorDetail struct {
	Message       string `json:"message"`
	InternalError string `json:"internal_error"`
}

// flexpriceAuthError is what Flexprice's auth middleware answers, before
// its error handler runs: {"error": "Unauthorized"}. message,
// http_status_code and success are paysync's additions so that clients
// generated from the spec, which read errors.ErrorResponse, see the failure
// too. error stays the peer's string rather than the SDK envelope's object:
// the SDK reads no body for a 401 (it answers its generic APIError), and
// consumers of the peer read the string.
type flexpriceAuthError struct {
	Error          string `json:"error"`
	Message        string `json:"message"`
	HTTPStatusCode int    `json:"http_status_code"`
	Success        bool   `json:"success"`
}

func writeFlexpriceError(w http.ResponseWriter, status int, err error) {
	body := flexpriceError{HTTPStatusCode: status, Message: messageOf(err)}
	switch status {
	case http.StatusUnauthorized:
		encode(w, status, flexpriceAuthError{Error: "Unauthorized", Message: "Unauthorized", HTTPStatusCode: status})
		return
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		// Flexprice has no 422: every validation failure is a 400.
		body.HTTPStatusCode = http.StatusBadRequest
		body.Code = flexpriceCodeValidation
		body.Details = flexpriceDetails(fieldsOf(err))
		if len(body.Details) > 0 {
			body.Message = "validation failed: " + strings.Join(sortedKeys(body.Details), ", ")
		}
	case http.StatusRequestEntityTooLarge:
		// The peer sets no limit on this route; its codes have none for size.
		body.Code = flexpriceCodeValidation
	case http.StatusNotFound:
		body.Code = flexpriceCodeNotFound
		body.Message = resourceOf(err) + " not found"
	case http.StatusConflict:
		// The spec lists no 409, but the peer answers one (ErrAlreadyExists)
		// for a duplicate external_id.
		body.Code = flexpriceCodeExists
		body.Details = flexpriceDetails(fieldsOf(err))
	case http.StatusServiceUnavailable:
		body.Code = flexpriceCodeUnavailable
	default:
		body.HTTPStatusCode = http.StatusInternalServerError
		body.Code = flexpriceCodeInternal
		body.Message = "internal error"
	}
	body.Error = flexpriceErrorDetail{Message: body.Message, InternalError: body.Message}
	encode(w, body.HTTPStatusCode, body)
}

// flexpriceDetails renders per-field reasons as the peer's details map,
// whose values are strings.
func flexpriceDetails(fields map[string][]string) map[string]any {
	if len(fields) == 0 {
		return nil
	}
	out := make(map[string]any, len(fields))
	for k, reasons := range fields {
		out[k] = strings.Join(reasons, ", ")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// handleFlexpriceCreate is POST /v1/customers: create only, 201.
func handleFlexpriceCreate(svc *paysync.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		in, err := readFlexpriceCustomer(w, r, true)
		if err != nil {
			fail(w, r, log, flexpriceDialect, err)
			return
		}
		// Flexprice requests name no provider: Billing stays nil, and a
		// connection flagged sync_new_customers takes the new customer.
		c, _, err := svc.Upsert(r.Context(), paysync.UpsertRequest{
			OrganizationID: org.ID,
			ExternalID:     in.ExternalID.V,
			Apply:          in.apply,
			CreateOnly:     true,
		})
		if err != nil {
			fail(w, r, log, flexpriceDialect, err)
			return
		}
		encode(w, http.StatusCreated, flexpriceCustomerView(c))
	})
}

// handleFlexpriceGet is GET /v1/customers/{id}, by paysync's customer id.
func handleFlexpriceGet(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		c, err := store.Customer(r.Context(), org.ID, paysync.CustomerKey{ID: r.PathValue("id")})
		if err != nil {
			fail(w, r, log, flexpriceDialect, notFound(err, "customer"))
			return
		}
		encode(w, http.StatusOK, flexpriceCustomerView(c))
	})
}

// handleFlexpriceGetExternal is GET /v1/customers/external/{external_id}
// and its legacy alias GET /v1/customers/lookup/{lookup_key}.
func handleFlexpriceGetExternal(store paysync.Store, log *slog.Logger, param string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		c, err := store.Customer(r.Context(), org.ID, paysync.CustomerKey{ExternalID: r.PathValue(param)})
		if err != nil {
			fail(w, r, log, flexpriceDialect, notFound(err, "customer"))
			return
		}
		encode(w, http.StatusOK, flexpriceCustomerView(c))
	})
}

// handleFlexpriceDelete is DELETE /v1/customers/{id}: 204 and no body, as
// the peer answers (it archives; paysync deletes the customer and its link).
func handleFlexpriceDelete(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		if err := store.DeleteCustomer(r.Context(), org.ID, r.PathValue("id")); err != nil {
			fail(w, r, log, flexpriceDialect, notFound(err, "customer"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleFlexpriceUpdate is PUT /v1/customers/{id} and PUT
// /v1/customers?id=|external_customer_id=: only the keys given change.
//
// It writes through the Store, not the Service: the update must fail when
// the customer is gone, where the Service's upsert would create it again.
// An update names no provider, so there is no link work to start.
func handleFlexpriceUpdate(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		current, err := flexpriceUpdateTarget(r, store, org.ID)
		if err != nil {
			fail(w, r, log, flexpriceDialect, err)
			return
		}
		in, err := readFlexpriceCustomer(w, r, false)
		if err != nil {
			fail(w, r, log, flexpriceDialect, err)
			return
		}
		// Customers are keyed by external id in every dialect: renaming it
		// would orphan Lago's and Lotus's view of the customer.
		if in.ExternalID.given() && in.ExternalID.V != current.ExternalID {
			fail(w, r, log, flexpriceDialect, paysync.FieldError(paysync.EINVALID, "external_id", "cannot_be_changed", "external_id cannot be changed"))
			return
		}
		c, _, err := store.UpsertCustomer(r.Context(), org.ID, current.ExternalID, func(existing *paysync.Customer) (*paysync.Customer, error) {
			if existing == nil || existing.ID != current.ID {
				return nil, &paysync.Error{Code: paysync.ENOTFOUND, Resource: "customer", Message: "customer not found"}
			}
			in.apply(existing)
			return existing, nil
		})
		if err != nil {
			fail(w, r, log, flexpriceDialect, notFound(err, "customer"))
			return
		}
		encode(w, http.StatusOK, flexpriceCustomerView(c))
	})
}

// flexpriceUpdateTarget finds the customer an update names: the path id,
// else the id or external_customer_id query parameter; both must agree.
func flexpriceUpdateTarget(r *http.Request, store paysync.Store, orgID string) (*paysync.Customer, error) {
	id := r.PathValue("id")
	if id == "" {
		id = r.URL.Query().Get("id")
	}
	ext := r.URL.Query().Get("external_customer_id")
	if id == "" && ext == "" {
		return nil, paysync.FieldError(paysync.EINVALID, "id", reasonMandatory, "either id or external_customer_id is required")
	}
	key := paysync.CustomerKey{ID: id}
	if ext != "" {
		key = paysync.CustomerKey{ExternalID: ext}
	}
	c, err := store.Customer(r.Context(), orgID, key)
	if err != nil {
		return nil, notFound(err, "customer")
	}
	if id != "" && c.ID != id {
		return nil, paysync.FieldError(paysync.EINVALID, "external_customer_id", reasonInvalid, "id and external_customer_id refer to different customers")
	}
	return c, nil
}

// handleFlexpriceList is GET /v1/customers, its filter in the query string.
func handleFlexpriceList(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseFlexpriceQuery(r)
		if err == nil {
			err = serveFlexpriceList(w, r, store, f)
		}
		if err != nil {
			fail(w, r, log, flexpriceDialect, err)
		}
	})
}

// handleFlexpriceSearch is POST /v1/customers/search, its filter
// (types.CustomerFilter) in the body.
func handleFlexpriceSearch(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		var f *flexpriceFilter
		if err == nil {
			f, err = parseFlexpriceFilterBody(body)
		}
		if err == nil {
			err = serveFlexpriceList(w, r, store, f)
		}
		if err != nil {
			fail(w, r, log, flexpriceDialect, err)
		}
	})
}

// flexpriceList is Flexprice's types.ListResponse.
type flexpriceList struct {
	Items      []flexpriceCustomerJSON `json:"items"`
	Pagination flexpricePagination     `json:"pagination"`
}

type flexpricePagination struct {
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func serveFlexpriceList(w http.ResponseWriter, r *http.Request, store paysync.Store, f *flexpriceFilter) error {
	org := organizationFrom(r.Context())
	customers, total, err := f.run(r.Context(), store, org.ID)
	if err != nil {
		return err
	}
	out := flexpriceList{
		Items:      make([]flexpriceCustomerJSON, 0, len(customers)),
		Pagination: flexpricePagination{Total: total, Limit: f.Limit, Offset: f.Offset},
	}
	for _, c := range customers {
		out.Items = append(out.Items, flexpriceCustomerView(c))
	}
	encode(w, http.StatusOK, out)
	return nil
}
