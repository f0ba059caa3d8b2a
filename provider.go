package paysync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ProviderKind names a payment provider.
type ProviderKind string

const (
	Stripe     ProviderKind = "stripe"
	Adyen      ProviderKind = "adyen"
	GoCardless ProviderKind = "gocardless"
	Braintree  ProviderKind = "braintree"
)

// ProviderKinds lists every provider paysync syncs to.
var ProviderKinds = []ProviderKind{Stripe, Adyen, GoCardless, Braintree}

// ParseProviderKind accepts the request values the dialects use.
func ParseProviderKind(s string) (ProviderKind, bool) {
	for _, k := range ProviderKinds {
		if string(k) == s {
			return k, true
		}
	}
	return "", false
}

// Provider is what every adapter implements. Both calls must be safe to
// repeat: the sync job runs at least once.
type Provider interface {
	// CreateCustomer creates the customer at the provider, or adopts the
	// one an earlier attempt of the same link generation created, and
	// returns it with its status. A customer this call created without a
	// payment method has none, so only an adopted one is read (providers
	// without a customer object read instead of creating). With an error,
	// the ID is set when the customer is known to exist.
	CreateCustomer(ctx context.Context, req CreateCustomerRequest) (ProviderCustomer, error)
	// CustomerStatus verifies that the provider customer exists and reads
	// whether it has a usable payment method. A missing customer is a
	// permanent *ProviderError with Code "customer_not_found".
	CustomerStatus(ctx context.Context, providerCustomerID string) (CustomerStatus, error)
}

// CreateCustomerRequest is what an adapter gets to create a customer.
type CreateCustomerRequest struct {
	Customer *Customer
	Link     *ProviderLink
	// IdempotencyKey is derived from (link, generation); adapters send it
	// as the provider's idempotency key or use it to derive one.
	IdempotencyKey string
}

// CustomerStatus is what paysync mirrors from the provider.
type CustomerStatus struct {
	HasPaymentMethod bool
}

// ProviderCustomer is a customer at a provider: its id and its status.
type ProviderCustomer struct {
	ID string
	CustomerStatus
}

// ProviderError is a classified provider failure: the one place where
// "retry" or "give up" is decided.
type ProviderError struct {
	Provider   ProviderKind  `json:"provider"`
	Code       string        `json:"code"`
	Message    string        `json:"message"`
	HTTPStatus int           `json:"http_status,omitempty"`
	Retryable  bool          `json:"retryable"`
	RetryAfter time.Duration `json:"-"`
}

func (e *ProviderError) Error() string {
	kind := "permanent"
	if e.Retryable {
		kind = "retryable"
	}
	return fmt.Sprintf("%s: %s error %s (http %d): %s", e.Provider, kind, e.Code, e.HTTPStatus, e.Message)
}

// CodeCustomerNotFound is the ProviderError code for a provider customer
// id that does not exist.
const CodeCustomerNotFound = "customer_not_found"

// CodeNotSent is the ProviderError code of a request that never left:
// the connection was refused or could not be made, or the wait for the
// connection's rate limit ran out. The provider did nothing.
const CodeNotSent = "not_sent"

// Ambiguous reports whether the failed call may nonetheless have been
// carried out: the request was sent and no answer came back (a timeout, a
// reset connection, a cancellation mid-request), the provider failed on
// its side (5xx), or a success answer could not be read. A request never
// sent, a 4xx and a 429 changed nothing at the provider. It is read from
// the error stored on a link too, so it uses only stored fields.
func (e *ProviderError) Ambiguous() bool {
	switch {
	case e == nil:
		return false
	case e.HTTPStatus == 0:
		return e.Code == "timeout" || e.Code == "network_error" || e.Code == "canceled"
	}
	return e.HTTPStatus >= 500 || e.HTTPStatus >= 200 && e.HTTPStatus < 300
}

// AsProviderError classifies any error from an adapter. Errors that are not
// a *ProviderError (network failures, timeouts) are retryable.
func AsProviderError(kind ProviderKind, err error) *ProviderError {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe
	}
	code := "network_error"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = "timeout"
	case errors.Is(err, context.Canceled):
		code = "canceled"
	}
	return &ProviderError{Provider: kind, Code: code, Message: err.Error(), Retryable: true}
}

// IsRetryable reports whether err is worth another attempt.
func IsRetryable(err error) bool { return AsProviderError("", err).Retryable }

// Connection is one configured account at one provider for one
// organization, chosen by (Provider, Code) as Lago does.
type Connection struct {
	OrganizationID string
	Provider       ProviderKind
	Code           string
	// Credentials are provider-specific (secret_key, api_key, merchant_account,
	// access_token, merchant_id, public_key, private_key, ...).
	Credentials map[string]string `json:"-"`
	// BaseURL overrides the provider's endpoint (a mock or sandbox).
	BaseURL string
	// RateLimit caps requests per second to the provider from every
	// process together (shared through Redis); 0 means none.
	RateLimit float64
	// Timeout bounds one provider call, its rate-limit wait included; 0
	// means the registry's default.
	Timeout time.Duration
	// SyncNewCustomers links every new customer of the organization that
	// names no provider to this connection, with sync_with_provider on.
	SyncNewCustomers bool
	// Sandbox marks a connection served by paysync's in-process emulator.
	Sandbox bool
	// ReturnURL is where a setup page sends the end customer when done.
	ReturnURL string
	// SetupLinkOnCreate generates a setup link (and a
	// customer.checkout_url_generated webhook) once a provider customer is created.
	SetupLinkOnCreate bool
}

// Connections finds an organization's provider connections.
type Connections interface {
	// List returns the organization's connections of kind, all kinds when kind is "".
	List(orgID string, kind ProviderKind) []Connection
	// Provider returns the adapter for one connection, or an *Error with
	// code ENOTFOUND when there is no such connection.
	Provider(orgID string, kind ProviderKind, code string) (Provider, error)
}

type bulkKey struct{}

// WithBulk marks the provider calls made under ctx as bulk work (a sync
// run's): a connection's rate limiter keeps a share of its budget free of
// them for live work.
func WithBulk(ctx context.Context) context.Context { return context.WithValue(ctx, bulkKey{}, true) }

// IsBulk reports whether ctx was marked by WithBulk.
func IsBulk(ctx context.Context) bool { b, _ := ctx.Value(bulkKey{}).(bool); return b }

type operationKey struct{}

// WithOperation names the provider operation (create_customer,
// customer_status, ...) the calls made under ctx belong to, for the
// provider call metrics: one HTTP call cannot tell which operation it serves.
func WithOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationOf is the operation WithOperation named, "other" when none.
func OperationOf(ctx context.Context) string {
	if op, _ := ctx.Value(operationKey{}).(string); op != "" {
		return op
	}
	return "other"
}
