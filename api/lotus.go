package api

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

// Lotus renders every error through drf-standardized-errors with its own
// RFC7807Formatter (metering_billing/exceptions/handler.py): type (one of
// three URLs), title (the first error's code), detail (its message), and
// validation_errors for validation failures. Statuses are DRF's.
const lotusErrorDocs = "https://docs.uselotus.io/errors/error-responses#"

type lotusProblem struct {
	Type             string            `json:"type"`
	Detail           string            `json:"detail"`
	Title            string            `json:"title"`
	ValidationErrors []lotusFieldError `json:"validation_errors,omitempty"`
}

func lotusClientError(title, detail string) lotusProblem {
	return lotusProblem{Type: lotusErrorDocs + "client-error", Title: title, Detail: detail}
}

// Lotus's two 401s: DRF's not_authenticated when no credential it reads
// is presented (a wrong X-API-KEY included: Lotus's middleware ignores
// it), knox's authentication_failed when "Authorization: Token" carries an
// unknown key. Both come with knox's WWW-Authenticate challenge.
var (
	lotusNotAuthenticated = lotusClientError("not_authenticated", "Authentication credentials were not provided.")
	lotusInvalidToken     = lotusClientError("authentication_failed", "Invalid token.")

	lotusDialect      = dialect{key: lotusKey, writeError: lotusErrorWriter(lotusNotAuthenticated)}
	lotusTokenDialect = dialect{key: lotusKey, writeError: lotusErrorWriter(lotusInvalidToken)}
)

// lotusToken reads "Authorization: Token <key>" as knox does (scheme
// case-insensitive); ok is false when the header is absent or another
// scheme. A Token header with no key or with spaces in it yields "".
func lotusToken(r *http.Request) (key string, ok bool) {
	parts := strings.Fields(r.Header.Get("Authorization"))
	if len(parts) == 0 || !strings.EqualFold(parts[0], "Token") {
		return "", false
	}
	if len(parts) != 2 {
		return "", true
	}
	return parts[1], true
}

// lotusKey is the key a Lotus request authenticates with: the Token when
// one is presented (knox authenticates before the X-API-KEY is looked at),
// else X-API-KEY.
func lotusKey(r *http.Request) string {
	if key, ok := lotusToken(r); ok {
		return key
	}
	return strings.TrimSpace(r.Header.Get("X-API-KEY"))
}

// authenticateLotus picks the dialect whose 401 matches what the request
// presented, then authenticates as every dialect does.
func authenticateLotus(a *authenticator, log *slog.Logger, next http.Handler) http.Handler {
	withToken := authenticate(a, lotusTokenDialect, log, next)
	withoutToken := authenticate(a, lotusDialect, log, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := lotusToken(r); ok {
			withToken.ServeHTTP(w, r)
			return
		}
		withoutToken.ServeHTTP(w, r)
	})
}

// lotusErrorWriter renders errors in Lotus's shape, with unauthorized as
// the 401 body. DRF answers validation errors and duplicates with 400.
func lotusErrorWriter(unauthorized lotusProblem) func(http.ResponseWriter, int, error) {
	return func(w http.ResponseWriter, status int, err error) {
		var invalid *lotusInvalid
		if errors.As(err, &invalid) {
			encode(w, http.StatusBadRequest, lotusValidationProblem(invalid.errs))
			return
		}
		var body lotusProblem
		switch status {
		case http.StatusBadRequest:
			body = lotusClientError("parse_error", messageOf(err))
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", "Token")
			body = unauthorized
		case http.StatusNotFound:
			// DRF's Http404: the same words for a missing customer and a route.
			body = lotusClientError("not_found", "Not found.")
		case http.StatusConflict:
			status = http.StatusBadRequest
			body = lotusClientError("duplicate_resource", messageOf(err))
		case http.StatusRequestEntityTooLarge:
			// Django answers an oversized body before DRF, outside this
			// shape; paysync keeps the shape and the honest status.
			body = lotusClientError("payload_too_large", messageOf(err))
		case http.StatusUnprocessableEntity:
			status = http.StatusBadRequest
			body = lotusValidationProblem(lotusFieldErrors(err))
		case http.StatusServiceUnavailable:
			body = lotusProblem{Type: lotusErrorDocs + "server-error", Title: "service_unavailable", Detail: "Service temporarily unavailable, try again later."}
		default:
			status = http.StatusInternalServerError
			body = lotusProblem{Type: lotusErrorDocs + "server-error", Title: "error", Detail: "A server error occurred."}
		}
		encode(w, status, body)
	}
}

// lotusValidationProblem is the formatter's validation-error body: the
// first error names title and detail, all of them are listed.
func lotusValidationProblem(errs []lotusFieldError) lotusProblem {
	if len(errs) == 0 {
		errs = []lotusFieldError{{Code: "invalid", Detail: "Invalid input.", Attr: lotusNonField}}
	}
	return lotusProblem{Type: lotusErrorDocs + "validation-error", Title: errs[0].Code, Detail: errs[0].Detail, ValidationErrors: errs}
}

// lotusFieldErrors lists a domain validation error's fields, sorted, with
// the domain message as each detail.
func lotusFieldErrors(err error) []lotusFieldError {
	fields := fieldsOf(err)
	var errs []lotusFieldError
	for _, attr := range slices.Sorted(maps.Keys(fields)) {
		for _, code := range fields[attr] {
			errs = append(errs, lotusFieldError{Code: code, Detail: messageOf(err), Attr: attr})
		}
	}
	if len(errs) == 0 {
		errs = append(errs, lotusFieldError{Code: "invalid", Detail: messageOf(err), Attr: lotusNonField})
	}
	return errs
}

// lotusParseError is DRF's ParseError for a body that is not JSON.
func lotusParseError(err error) error {
	return badRequest("JSON parse error - " + err.Error())
}

// Lotus's DuplicateCustomer messages (api/views.py perform_create).
var (
	errLotusDuplicateID    = &paysync.Error{Code: paysync.ECONFLICT, Resource: "customer", Message: "Customer ID already exists"}
	errLotusDuplicateEmail = &paysync.Error{Code: paysync.ECONFLICT, Resource: "customer", Message: "Customer email already exists"}
)

// lotusUpsertError renders the Service's refusals in Lotus's words.
func lotusUpsertError(err error) error {
	var e *paysync.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Code == paysync.ECONFLICT:
		return errLotusDuplicateID
	case hasReason(e.Fields, "payment_provider", "payment_provider_not_found"):
		return newLotusInvalid([]lotusFieldError{{Code: "invalid", Detail: "Specified payment provider not connected to organization", Attr: lotusNonField}})
	case hasReason(e.Fields, "payment_provider_code", "payment_provider_code_missing"):
		// Lotus has one connection per provider; paysync may have several,
		// and the Lotus request cannot name one.
		return newLotusInvalid([]lotusFieldError{{Code: "invalid", Detail: "Several connections of this payment provider are configured; paysync cannot tell which one to use", Attr: "payment_provider"}})
	}
	return err
}

func hasReason(fields map[string][]string, field, reason string) bool {
	for _, r := range fields[field] {
		if r == reason {
			return true
		}
	}
	return false
}

// checkLotusDuplicate refuses a customer whose email another customer of
// the organization has, as Lotus's unique_email constraint does. It runs
// before the transaction (a read inside it would need a second SQLite
// connection), so two concurrent creates with one email can both pass;
// the customer_id stays strictly unique through CreateOnly.
func checkLotusDuplicate(ctx context.Context, store paysync.Store, orgID string, in *lotusCustomer) error {
	c, err := store.Customer(ctx, orgID, paysync.CustomerKey{Email: in.Email})
	switch {
	case err == nil && c.ExternalID == in.CustomerID:
		return errLotusDuplicateID
	case err == nil:
		return errLotusDuplicateEmail
	case paysync.ErrorCode(err) == paysync.ENOTFOUND:
		return nil
	}
	return err
}

// handleLotusCreate is POST /api/customers/: create only, 201.
func handleLotusCreate(svc *paysync.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		body, err := readBody(w, r)
		if err != nil {
			fail(w, r, log, lotusDialect, err)
			return
		}
		in, err := parseLotusCustomer(body)
		if err == nil {
			err = checkLotusDuplicate(r.Context(), svc.Store, org.ID, in)
		}
		if err != nil {
			fail(w, r, log, lotusDialect, err)
			return
		}
		c, _, err := svc.Upsert(r.Context(), paysync.UpsertRequest{
			OrganizationID: org.ID,
			ExternalID:     in.CustomerID,
			Apply:          in.apply,
			Billing:        in.billingRequest(),
			CreateOnly:     true,
		})
		if err != nil {
			fail(w, r, log, lotusDialect, lotusUpsertError(err))
			return
		}
		encode(w, http.StatusCreated, lotusCustomerView(c))
	})
}

// lotusCustomerByPath finds the customer named by {customer_id}.
func lotusCustomerByPath(r *http.Request, store paysync.Store) (*paysync.Customer, error) {
	id := r.PathValue("customer_id")
	if id == "" {
		return nil, &paysync.Error{Code: paysync.ENOTFOUND, Resource: "customer", Message: "customer not found"}
	}
	c, err := store.Customer(r.Context(), organizationFrom(r.Context()).ID, paysync.CustomerKey{ExternalID: id})
	return c, notFound(err, "customer")
}

// handleLotusGet is GET /api/customers/{customer_id}/.
func handleLotusGet(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := lotusCustomerByPath(r, store)
		if err != nil {
			fail(w, r, log, lotusDialect, err)
			return
		}
		encode(w, http.StatusOK, lotusCustomerView(c))
	})
}

// handleLotusList is GET /api/customers/: every customer, oldest first, as
// a plain JSON array. Lotus's list is not paginated, so the store reads
// every customer in one query (CustomerFilter.All): one consistent
// snapshot, where reading page by page could skip or repeat a customer
// that a concurrent delete shifts across pages.
func handleLotusList(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		customers, _, err := store.Customers(r.Context(), org.ID, paysync.CustomerFilter{All: true})
		if err != nil {
			fail(w, r, log, lotusDialect, err)
			return
		}
		out := make([]lotusCustomerJSON, 0, len(customers))
		for _, c := range customers {
			out = append(out, lotusCustomerView(c))
		}
		encode(w, http.StatusOK, out)
	})
}

// lotusDeleted is Lotus's CustomerDeleteResponse. paysync has no
// subscriptions, so the counts are zero.
type lotusDeleted struct {
	CustomerID              string  `json:"customer_id"`
	Email                   *string `json:"email"`
	Deleted                 string  `json:"deleted"`
	NumSubscriptionsDeleted int     `json:"num_subscriptions_deleted"`
	NumAddonsDeleted        int     `json:"num_addons_deleted"`
}

// lotusTimeLayout is how DRF's encoder writes a UTC datetime: microseconds
// and "Z".
const lotusTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// handleLotusDelete is POST /api/customers/{customer_id}/delete/. Lotus
// archives the customer; paysync deletes it and its provider link (the
// provider's customer is left as it is).
func handleLotusDelete(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := lotusCustomerByPath(r, store)
		if err == nil {
			err = notFound(store.DeleteCustomer(r.Context(), c.OrganizationID, c.ID), "customer")
		}
		if err != nil {
			fail(w, r, log, lotusDialect, err)
			return
		}
		encode(w, http.StatusOK, lotusDeleted{
			CustomerID: c.ExternalID,
			Email:      nullable(c.Email),
			Deleted:    time.Now().UTC().Format(lotusTimeLayout),
		})
	})
}
