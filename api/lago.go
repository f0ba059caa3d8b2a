package api

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/paysync/paysync"
)

// lagoDialect is Lago's API key (Authorization: Bearer) and error shapes
// (lago-api's ApiErrors concern).
var lagoDialect = dialect{key: bearerKey, writeError: writeLagoError}

type lagoError struct {
	Status       int                 `json:"status"`
	Error        string              `json:"error"`
	Code         string              `json:"code,omitempty"`
	ErrorDetails map[string][]string `json:"error_details,omitempty"`
}

func writeLagoError(w http.ResponseWriter, status int, err error) {
	body := lagoError{Status: status}
	switch status {
	case http.StatusBadRequest:
		body.Error = "BadRequest: " + messageOf(err)
	case http.StatusUnauthorized:
		body.Error = "Unauthorized"
	case http.StatusNotFound:
		body.Error = "Not Found"
		body.Code = resourceOf(err) + "_not_found"
	case http.StatusRequestEntityTooLarge:
		// Rails sets no limit of its own (the proxy in front answers);
		// paysync answers in Lago's shape with Rack's reason phrase.
		body.Error = "Payload Too Large"
	case http.StatusUnprocessableEntity, http.StatusConflict:
		// Lago reports a duplicate as a validation error (value_already_exist).
		body.Status = http.StatusUnprocessableEntity
		body.Error = "Unprocessable Entity"
		body.Code = "validation_errors"
		body.ErrorDetails = fieldsOf(err)
		if len(body.ErrorDetails) == 0 {
			body.ErrorDetails = map[string][]string{"base": {messageOf(err)}}
		}
	case http.StatusServiceUnavailable:
		// Lago's render_error_response shape; the code says no more than
		// the status, so that clients learn nothing of paysync's insides.
		body.Error = "Service Unavailable"
		body.Code = "service_unavailable"
	default:
		body.Status = http.StatusInternalServerError
		body.Error = "Internal Server Error"
	}
	encode(w, body.Status, body)
}

type lagoCustomerEnvelope struct {
	Customer lagoCustomerJSON `json:"customer"`
}

// handleLagoUpsert is POST /api/v1/customers: create or update by
// external_id, 200 either way.
func handleLagoUpsert(svc *paysync.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		body, err := readBody(w, r)
		if err != nil {
			fail(w, r, log, lagoDialect, withoutEnvelope(err, "customer."))
			return
		}
		obj, err := lagoCustomerObject(body)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		v := paysync.Validation{}
		in := parseLagoCustomer(obj, v)
		in.normalize()
		in.validate(v)
		if err := v.Err(); err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		c, _, err := svc.Upsert(r.Context(), paysync.UpsertRequest{
			OrganizationID: org.ID,
			ExternalID:     in.ExternalID.V,
			Apply:          in.apply,
			Billing:        in.billingRequest(),
		})
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		encode(w, http.StatusOK, lagoCustomerEnvelope{Customer: lagoCustomerView(c)})
	})
}

// handleLagoGet is GET /api/v1/customers/{external_id}.
func handleLagoGet(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		c, err := store.Customer(r.Context(), org.ID, paysync.CustomerKey{ExternalID: r.PathValue("external_id")})
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "customer"))
			return
		}
		encode(w, http.StatusOK, lagoCustomerEnvelope{Customer: lagoCustomerView(c)})
	})
}

// handleLagoDelete is DELETE /api/v1/customers/{external_id}: answers the
// customer as it was.
func handleLagoDelete(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		c, err := store.Customer(r.Context(), org.ID, paysync.CustomerKey{ExternalID: r.PathValue("external_id")})
		if err == nil {
			err = store.DeleteCustomer(r.Context(), org.ID, c.ID)
		}
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "customer"))
			return
		}
		encode(w, http.StatusOK, lagoCustomerEnvelope{Customer: lagoCustomerView(c)})
	})
}

// handleLagoResync is POST /api/v1/customers/{external_id}/resync, a
// paysync addition: a new sync generation, run inline with ?sync=true.
func handleLagoResync(svc *paysync.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		inline, _ := strconv.ParseBool(r.URL.Query().Get("sync"))
		c, err := svc.Resync(r.Context(), org.ID, r.PathValue("external_id"), inline)
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "customer"))
			return
		}
		encode(w, http.StatusOK, lagoCustomerEnvelope{Customer: lagoCustomerView(c)})
	})
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

// Lago's page size when per_page is absent (its Pagination concern). Lago
// sets no maximum; paysync's store caps pages at 100, and so does the meta.
const (
	lagoPerPage    = 100
	lagoPerPageMax = 100
)

type lagoMeta struct {
	CurrentPage int  `json:"current_page"`
	NextPage    *int `json:"next_page"`
	PrevPage    *int `json:"prev_page"`
	TotalPages  int  `json:"total_pages"`
	TotalCount  int  `json:"total_count"`
}

type lagoCustomerList struct {
	Customers []lagoCustomerJSON `json:"customers"`
	Meta      lagoMeta           `json:"meta"`
}

// handleLagoList is GET /api/v1/customers?page=&per_page=, oldest first.
func handleLagoList(store paysync.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		page, perPage := lagoPaging(r)
		customers, total, err := store.Customers(r.Context(), org.ID, paysync.CustomerFilter{Page: page, PerPage: perPage})
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		out := lagoCustomerList{Customers: make([]lagoCustomerJSON, 0, len(customers))}
		for _, c := range customers {
			out.Customers = append(out.Customers, lagoCustomerView(c))
		}
		out.Meta = lagoPageMeta(page, perPage, len(customers), total)
		encode(w, http.StatusOK, out)
	})
}

// lagoPaging reads page and per_page as Kaminari does: a value that is not
// a positive number falls back to the default rather than failing.
func lagoPaging(r *http.Request) (page, perPage int) {
	page, perPage = 1, lagoPerPage
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 0 {
		page = n
	} else if errors.Is(err, strconv.ErrRange) && n > 0 {
		page = n // beyond int: the largest page, past any end
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && n > 0 {
		perPage = min(n, lagoPerPageMax)
	}
	return page, perPage
}

// lagoPageMeta is Lago's pagination_metadata: all zeros and nulls when the
// page holds no record (even past the last page of a non-empty list).
func lagoPageMeta(page, perPage, onPage, total int) lagoMeta {
	if onPage == 0 {
		return lagoMeta{}
	}
	pages := int(math.Ceil(float64(total) / float64(perPage)))
	m := lagoMeta{CurrentPage: page, TotalPages: pages, TotalCount: total}
	if page < pages {
		next := page + 1
		m.NextPage = &next
	}
	if page > 1 {
		prev := page - 1
		m.PrevPage = &prev
	}
	return m
}
