// Package gocardlessemu is an in-memory GoCardless API for sandbox mode and
// tests. It speaks GoCardless's wire format for what paysync and the
// official SDKs use: customers, mandates, billing requests and billing
// request flows, with GoCardless's bearer auth, GoCardless-Version header,
// Idempotency-Key semantics, cursor pagination and error bodies, plus fault
// injection at /_faults and sandbox helpers under /_sandbox. Once
// SendWebhooks is called it also sends GoCardless's signed mandate webhooks.
package gocardlessemu

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/state"
	"github.com/paysync/paysync/sandbox/webhooksend"
)

// APIVersion is the only GoCardless-Version the emulator serves.
const APIVersion = "2015-07-06"

// TokenPrefix starts every access token the emulator accepts, as GoCardless
// sandbox tokens do; anything else is an unknown token.
const TokenPrefix = "sandbox_"

// SandboxToken is the access token of sandbox connections.
const SandboxToken = TokenPrefix + "paysync"

// Emulator is a stateful GoCardless API. It is an http.Handler; the zero
// value is not usable, call New.
type Emulator struct {
	// Faults injects failures in front of the API. /_faults and /_sandbox
	// are never faulted, so a plan can always be cleared.
	Faults *fault.Injector
	// PublicURL is where a browser reaches this emulator, used for
	// authorisation URLs. Empty means the scheme and host of each request.
	PublicURL string

	creditorID string
	api        http.Handler
	sandbox    http.Handler

	mu              sync.Mutex
	seq             int
	customers       map[string]*customer
	mandates        map[string]*mandate
	billingRequests map[string]*billingRequest
	flows           map[string]*flow
	// idempotency maps endpoint + key to the resource the key created.
	idempotency map[string]string
	// state, when set, keeps every object across restarts (persist.go).
	state *state.Store

	// wh sends webhooks once SendWebhooks configured it; lock e.mu first.
	wh *webhooksend.Sender[struct{}]
}

// New returns an empty emulator with no faults planned.
func New() *Emulator {
	e := &Emulator{
		creditorID:      newID("CR"),
		customers:       map[string]*customer{},
		mandates:        map[string]*mandate{},
		billingRequests: map[string]*billingRequest{},
		flows:           map[string]*flow{},
		idempotency:     map[string]string{},
		wh:              webhooksend.New[struct{}](webhookPolicy),
	}
	e.Faults = fault.New(writeFault, rateLimitHeaders)

	api := http.NewServeMux()
	api.HandleFunc("POST /customers", e.createCustomer)
	api.HandleFunc("GET /customers", e.listCustomers)
	api.HandleFunc("GET /customers/{id}", e.getCustomer)
	api.HandleFunc("DELETE /customers/{id}", e.removeCustomer)
	api.HandleFunc("GET /mandates", e.listMandates)
	api.HandleFunc("GET /mandates/{id}", e.getMandate)
	api.HandleFunc("POST /billing_requests", e.createBillingRequest)
	api.HandleFunc("GET /billing_requests/{id}", e.getBillingRequest)
	api.HandleFunc("POST /billing_request_flows", e.createFlow)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, typeInvalidAPIUsage, "Path not found",
			errorDetail{Reason: "path_not_found", Message: "Path not found"})
	})
	e.api = checkHeaders(api)

	sb := http.NewServeMux()
	sb.HandleFunc("POST /_sandbox/seed", e.sandboxSeed)
	sb.HandleFunc("POST /_sandbox/customers/{id}/mandates", e.sandboxAttach)
	sb.HandleFunc("DELETE /_sandbox/customers/{id}/mandates", e.sandboxCancel)
	sb.HandleFunc("GET /_sandbox/billing_request_flows/{id}", e.flowPage)
	sb.HandleFunc("POST /_sandbox/billing_request_flows/{id}", e.completeFlow)
	e.sandbox = sb
	return e
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_faults":
		e.Faults.Handler().ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/_sandbox/"):
		e.sandbox.ServeHTTP(w, r)
	default:
		// Read the body before any fault: net/http notices a client that
		// gave up only once the body is consumed, and a Timeout fault must
		// end when the client does.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, typeInvalidAPIUsage, "Request body is too large",
				errorDetail{Reason: "request_entity_too_large", Message: "Request body is too large"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.Faults.Wrap(e.api).ServeHTTP(w, r)
	}
}

// CustomerCount reports how many customers were ever created, removed ones
// included: what a duplicate-creation check needs.
func (e *Emulator) CustomerCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.customers)
}

// AttachPaymentMethod gives the customer an active mandate, as if they had
// completed a billing request flow, and returns the mandate id.
func (e *Emulator) AttachPaymentMethod(customerID string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.liveCustomer(customerID)
	if !ok {
		return "", fmt.Errorf("gocardlessemu: no customer %q", customerID)
	}
	m := e.addMandate(c, "", "active")
	e.emit(lifecycleEvents(m, "api", descCreatedAPI))
	return m.ID, nil
}

// CancelMandates cancels every mandate of the customer that is not already
// finished, as a customer cancelling at their bank would.
func (e *Emulator) CancelMandates(customerID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.customers[customerID]; !ok {
		return fmt.Errorf("gocardlessemu: no customer %q", customerID)
	}
	e.emit(cancelledEvents(e.cancelMandates(customerID), "bank", descCancelledBnk))
	return nil
}

// checkHeaders answers what GoCardless answers before any endpoint runs:
// a missing or unknown access token, a missing or unknown API version.
func checkHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			writeError(w, http.StatusUnauthorized, typeInvalidAPIUsage, "Authorization header must be provided",
				errorDetail{Reason: "missing_authorization_header", Message: "Authorization header must be provided"})
			return
		}
		token, bearer := strings.CutPrefix(auth, "Bearer ")
		if !bearer || !strings.HasPrefix(token, TokenPrefix) || len(token) == len(TokenPrefix) {
			writeError(w, http.StatusUnauthorized, typeInvalidAPIUsage, "Access token not found",
				errorDetail{Reason: "access_token_not_found", Message: "Access token not found"})
			return
		}
		switch v := r.Header.Get("GoCardless-Version"); v {
		case APIVersion:
		case "":
			writeError(w, http.StatusBadRequest, typeInvalidAPIUsage, "GoCardless-Version header must be provided",
				errorDetail{Reason: "missing_version_header", Message: "GoCardless-Version header must be provided"})
			return
		default:
			writeError(w, http.StatusBadRequest, typeInvalidAPIUsage, "Version not found",
				errorDetail{Reason: "version_not_found", Message: "Version not found"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Error types GoCardless puts in error.type.
const (
	typeInvalidAPIUsage  = "invalid_api_usage"
	typeInvalidState     = "invalid_state"
	typeValidationFailed = "validation_failed"
	typeGoCardless       = "gocardless"
)

// errorDetail is one entry of error.errors.
type errorDetail struct {
	Reason         string            `json:"reason,omitempty"`
	Field          string            `json:"field,omitempty"`
	Message        string            `json:"message"`
	RequestPointer string            `json:"request_pointer,omitempty"`
	Links          map[string]string `json:"links,omitempty"`
}

// writeError writes GoCardless's error envelope.
func writeError(w http.ResponseWriter, status int, typ, message string, details ...errorDetail) {
	anchor := typ
	if typ != typeValidationFailed && len(details) > 0 && details[0].Reason != "" {
		anchor = details[0].Reason
	}
	if details == nil {
		details = []errorDetail{}
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message":           message,
		"errors":            details,
		"documentation_url": "https://developer.gocardless.com/api-reference#" + anchor,
		"type":              typ,
		"request_id":        requestID(),
		"code":              status,
	}})
}

// validationError answers 422 validation_failed for the given fields of the
// resource (request_pointer is /<resource>/<field>).
func validationError(w http.ResponseWriter, resource string, fields ...errorDetail) {
	for i := range fields {
		fields[i].RequestPointer = "/" + resource + "/" + strings.ReplaceAll(fields[i].Field, ".", "/")
	}
	writeError(w, http.StatusUnprocessableEntity, typeValidationFailed, "Validation failed", fields...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeFault is the fault injector's writer: GoCardless's own bodies for a
// rate limit and an internal error.
func writeFault(w http.ResponseWriter, status int, kind fault.Kind) {
	if kind == fault.RateLimited {
		writeError(w, status, typeInvalidAPIUsage, "Rate limit exceeded",
			errorDetail{Reason: "rate_limit_exceeded", Message: "Rate limit exceeded"})
		return
	}
	if status < 500 {
		// An injected client error is GoCardless's invalid_api_usage, the
		// type it answers a bad token or request with.
		reason := "invalid_api_usage"
		if status == http.StatusUnauthorized {
			reason = "access_token_not_found"
		}
		writeError(w, status, typeInvalidAPIUsage, http.StatusText(status),
			errorDetail{Reason: reason, Message: http.StatusText(status)})
		return
	}
	writeError(w, status, typeGoCardless, "Uh-oh! An internal error occurred",
		errorDetail{Reason: "internal_server_error", Message: "Uh-oh! An internal error occurred"})
}

// rateLimitHeaders sets GoCardless's rate-limit headers: RateLimit-Reset is
// an HTTP date, not a number of seconds.
func rateLimitHeaders(h http.Header, retryAfter time.Duration) {
	h.Set("RateLimit-Limit", "1000")
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", resetAt(time.Now(), retryAfter).Format(http.TimeFormat))
}

// resetAt is when a window that lets the client in again after d ends,
// rounded up to the second an HTTP date can carry so a client never comes
// back early. No d means GoCardless's one-minute window.
func resetAt(now time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return now.UTC().Truncate(time.Minute).Add(time.Minute)
	}
	t := now.UTC().Add(d)
	if s := t.Truncate(time.Second); !s.Equal(t) {
		t = s.Add(time.Second)
	}
	return t
}

const idAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newID returns a GoCardless-style id: a resource prefix and 12 upper-case
// alphanumerics (CU0008X7T1WQ4K).
func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}

// requestID mimics GoCardless's request ids (four hex groups).
func requestID() string {
	b := make([]byte, 14)
	_, _ = rand.Read(b)
	return strings.ToUpper(fmt.Sprintf("%x_%x_%x_%x", b[0:6], b[6:10], b[10:12], b[12:14]))
}

// timestamp formats t as GoCardless does: UTC, milliseconds, Z.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
