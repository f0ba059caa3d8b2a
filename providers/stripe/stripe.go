// Package stripe is the paysync adapter for Stripe, built on stripe-go's
// client API. It creates customers with an idempotency key derived from the
// link generation, searches by the link's metadata whenever an earlier call
// may have created the customer, and reads whether a customer has a usable
// payment method.
package stripe

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	stripeclient "github.com/stripe/stripe-go/v76/client"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

// Metadata keys the adapter writes on every customer it creates; the
// search for a customer an earlier call created relies on MetaLinkID.
const (
	MetaCustomerID = "paysync_customer_id"
	MetaExternalID = "paysync_external_id"
	MetaLinkID     = "paysync_link_id"
	MetaGeneration = "paysync_generation"
)

// searchAfter is how old a pending link must be before CreateCustomer
// searches first: Stripe forgets idempotency keys after 24 hours, so a
// retry past that could otherwise create a second customer.
const searchAfter = 23 * time.Hour

// searchLag is how long Stripe's search index may take to show a new
// customer; a search that finds nothing after an ambiguous create is
// retried no sooner.
const searchLag = time.Minute

// Provider is a Stripe connection. It is safe for concurrent use.
type Provider struct {
	api *stripeclient.API
	// webhookSecret is the endpoint secret (whsec_...) webhooks are
	// verified with; "" when the connection names none.
	webhookSecret string
}

var _ paysync.Provider = (*Provider)(nil)

// New returns the adapter for conn. client carries the requests (nil means a
// client with stripe-go's default 80 s timeout); it is copied, not modified.
// Webhooks are verified with credentials.webhook_secret.
func New(conn paysync.Connection, client *http.Client) (*Provider, error) {
	key := conn.Credentials["secret_key"]
	if key == "" {
		return nil, errors.New("credentials.secret_key is required")
	}
	hc := &http.Client{Timeout: 80 * time.Second}
	if client != nil {
		c := *client
		hc = &c
	}
	// conn.RateLimit is applied by the registry's transport, under this one.
	hc.Transport = providers.RecordingTransport{Next: hc.Transport}

	cfg := &stripego.BackendConfig{
		HTTPClient: hc,
		// Retries belong to the job queue, which honours Retry-After and
		// keeps the idempotency key; SDK retries would hide both.
		MaxNetworkRetries: stripego.Int64(0),
		// Errors are returned and classified; the SDK's own logs would only
		// duplicate them.
		LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull},
	}
	if conn.BaseURL != "" {
		cfg.URL = stripego.String(strings.TrimRight(conn.BaseURL, "/"))
	}
	secret := conn.Credentials["webhook_secret"]
	return &Provider{api: stripeclient.New(key, stripego.NewBackendsWithConfig(cfg)), webhookSecret: secret}, nil
}

// CreateCustomer creates the customer, or adopts the one an earlier attempt
// or generation of the same link created: one paysync link is one Stripe
// customer. The happy path is one call: a customer created without
// payment_method, source or invoice_settings has no payment method, so
// only an adopted one (a search hit, an idempotent replay) is read.
func (p *Provider) CreateCustomer(ctx context.Context, req paysync.CreateCustomerRequest) (paysync.ProviderCustomer, error) {
	if req.Customer == nil {
		return paysync.ProviderCustomer{}, &paysync.ProviderError{Provider: paysync.Stripe, Code: "invalid_request", Message: "no customer to create"}
	}
	l := req.Link
	if l != nil && l.ID == "" {
		l = nil // nothing to search by; the key alone guards the create
	}
	if l != nil && mayExist(l) {
		id, err := p.findCreated(ctx, l.ID)
		if err != nil || id != "" {
			return p.adopt(ctx, id, err)
		}
	}

	cctx, last := providers.WithLastResponse(ctx)
	params := customerParams(req.Customer, req.Link)
	params.Context = cctx
	if req.IdempotencyKey != "" {
		params.IdempotencyKey = stripego.String(req.IdempotencyKey)
	}
	c, err := p.api.Customers.New(params)
	if err == nil {
		if last.Header.Get("Idempotent-Replayed") == "true" {
			// An earlier attempt created it, and a payment method may
			// have been attached since.
			return p.adopt(ctx, c.ID, nil)
		}
		return paysync.ProviderCustomer{ID: c.ID}, nil
	}
	pe := classify(err, last)
	if l == nil || !ambiguous(err, pe) {
		return paysync.ProviderCustomer{}, pe
	}
	// Stripe answers the key's saved result (a changed body's
	// idempotency_error, a replayed 5xx), which hides whether an earlier
	// attempt created the customer: only the search can tell.
	id, serr := p.findCreated(ctx, l.ID)
	if serr != nil || id != "" {
		return p.adopt(ctx, id, serr)
	}
	// Not found may only be the search index lagging behind the create:
	// retry once it has caught up, never fail the link (a resync would
	// start a new key and could make a second customer).
	pe.Retryable = true
	pe.RetryAfter = max(pe.RetryAfter, searchLag)
	return paysync.ProviderCustomer{}, pe
}

// adopt reads the status of a customer an earlier call created, unless
// finding it failed with err.
func (p *Provider) adopt(ctx context.Context, id string, err error) (paysync.ProviderCustomer, error) {
	if err != nil {
		return paysync.ProviderCustomer{}, err
	}
	st, err := p.CustomerStatus(ctx, id)
	return paysync.ProviderCustomer{ID: id, CustomerStatus: st}, err
}

// mayExist reports whether an earlier call may have created the link's
// customer, so that CreateCustomer must search before creating: the last
// attempt of this generation got an ambiguous answer (a timeout, a reset
// connection, a 5xx: its create may have gone through, and Stripe refuses
// the key if the customer's fields changed since), an earlier generation
// of this link ran (under another key), or the key may have expired. A
// first attempt, or a retry after an answer that created nothing (a
// refused connection, a 429, a 4xx), skips the search: one call. An
// attempt whose outcome was never recorded (a crash) is covered by the
// key: Stripe replays its customer, which is then adopted.
func mayExist(l *paysync.ProviderLink) bool {
	return l.Attempts > 0 && l.LastError.Ambiguous() || l.Generation > 1 ||
		(!l.PendingSince.IsZero() && time.Since(l.PendingSince) > searchAfter)
}

// ambiguous reports whether a failed create may nonetheless have created
// the customer: a 400 idempotency_error (the key was first used with
// another body) or a 5xx (Stripe saves it under the key once the request
// began executing, and replays it for 24 hours).
func ambiguous(err error, pe *paysync.ProviderError) bool {
	// By type, not code: Stripe sends this one without a code today.
	var se *stripego.Error
	if errors.As(err, &se) && se.Type == stripego.ErrorTypeIdempotency && se.HTTPStatusCode == http.StatusBadRequest {
		return true
	}
	return pe.HTTPStatus >= 500
}

// findCreated searches for a customer created for this link, by any
// generation, returning "" when there is none.
func (p *Provider) findCreated(ctx context.Context, linkID string) (string, error) {
	ctx, last := providers.WithLastResponse(ctx)
	params := &stripego.CustomerSearchParams{SearchParams: stripego.SearchParams{
		Context: ctx,
		Query:   SearchQuery(linkID),
		// One page, as large as Stripe allows, so the oldest is among it.
		Limit:  stripego.Int64(100),
		Single: true,
	}}
	it := p.api.Customers.Search(params)
	var found *stripego.Customer
	for it.Next() {
		// Duplicates should not exist; if they do, the oldest is the one
		// paysync may already have recorded.
		if c := it.Customer(); found == nil || c.Created < found.Created {
			found = c
		}
	}
	if err := it.Err(); err != nil {
		return "", classify(err, last)
	}
	if found == nil {
		return "", nil
	}
	return found.ID, nil
}

// SearchQuery is the Stripe search query that finds the customers created
// for a link, whichever generation created them.
func SearchQuery(linkID string) string {
	return "metadata['" + MetaLinkID + "']:'" + quote(linkID) + "'"
}

// quote escapes a value for a single-quoted Stripe search string.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

func customerParams(c *paysync.Customer, l *paysync.ProviderLink) *stripego.CustomerParams {
	params := &stripego.CustomerParams{}
	name := displayName(c)
	if name != "" {
		params.Name = stripego.String(name)
	}
	if c.Email != "" {
		params.Email = stripego.String(c.Email)
	}
	if c.Phone != "" {
		params.Phone = stripego.String(c.Phone)
	}
	if !c.BillingAddress.IsZero() {
		params.Address = address(c.BillingAddress)
	}
	// Stripe requires a name with a shipping address; without one the
	// address is left out rather than failing the whole customer.
	if !c.ShippingAddress.IsZero() && name != "" {
		params.Shipping = &stripego.CustomerShippingParams{Address: address(c.ShippingAddress), Name: stripego.String(name)}
		if c.Phone != "" {
			params.Shipping.Phone = stripego.String(c.Phone)
		}
	}
	if c.DocumentLocale != "" {
		params.PreferredLocales = []*string{stripego.String(c.DocumentLocale)}
	}
	params.AddMetadata(MetaCustomerID, c.ID)
	params.AddMetadata(MetaExternalID, c.ExternalID)
	if l != nil {
		params.AddMetadata(MetaLinkID, l.ID)
		params.AddMetadata(MetaGeneration, strconv.Itoa(l.Generation))
	}
	return params
}

// displayName is the name Stripe shows: the customer's name, else the
// person's first and last names, else the legal name.
func displayName(c *paysync.Customer) string {
	if c.Name != "" {
		return c.Name
	}
	if n := strings.TrimSpace(c.FirstName + " " + c.LastName); n != "" {
		return n
	}
	return c.LegalName
}

func address(a paysync.Address) *stripego.AddressParams {
	p := &stripego.AddressParams{}
	set := func(dst **string, v string) {
		if v != "" {
			*dst = stripego.String(v)
		}
	}
	set(&p.Line1, a.Line1)
	set(&p.Line2, a.Line2)
	set(&p.City, a.City)
	set(&p.State, a.State)
	set(&p.PostalCode, a.PostalCode)
	set(&p.Country, a.Country)
	return p
}

// CustomerStatus verifies the customer exists and reads whether it has a
// payment method: the invoice default, else a default source, else any
// attached payment method.
func (p *Provider) CustomerStatus(ctx context.Context, providerCustomerID string) (paysync.CustomerStatus, error) {
	if providerCustomerID == "" {
		return paysync.CustomerStatus{}, notFound("no customer id given")
	}
	ctx, last := providers.WithLastResponse(ctx)
	c, err := p.api.Customers.Get(providerCustomerID, &stripego.CustomerParams{Params: stripego.Params{Context: ctx}})
	if err != nil {
		return paysync.CustomerStatus{}, missingAsNotFound(classify(err, last))
	}
	if c.Deleted {
		return paysync.CustomerStatus{}, notFound("customer " + providerCustomerID + " is deleted")
	}
	if c.InvoiceSettings != nil && c.InvoiceSettings.DefaultPaymentMethod != nil && c.InvoiceSettings.DefaultPaymentMethod.ID != "" {
		return paysync.CustomerStatus{HasPaymentMethod: true}, nil
	}
	if c.DefaultSource != nil && c.DefaultSource.ID != "" {
		return paysync.CustomerStatus{HasPaymentMethod: true}, nil
	}

	params := &stripego.CustomerListPaymentMethodsParams{Customer: stripego.String(providerCustomerID)}
	params.Context = ctx
	params.Limit = stripego.Int64(1)
	params.Single = true
	it := p.api.Customers.ListPaymentMethods(params)
	has := it.Next()
	if err := it.Err(); err != nil {
		// A 404 here means the customer was deleted since the GET above.
		return paysync.CustomerStatus{}, missingAsNotFound(classify(err, last))
	}
	return paysync.CustomerStatus{HasPaymentMethod: has}, nil
}

// missingAsNotFound names Stripe's 404 resource_missing on a customer's
// own path as the domain's customer_not_found; it is permanent already.
// Another 404 (a wrong BaseURL) keeps its own code.
func missingAsNotFound(pe *paysync.ProviderError) *paysync.ProviderError {
	if pe.HTTPStatus == http.StatusNotFound && pe.Code == "resource_missing" {
		pe.Code = paysync.CodeCustomerNotFound
	}
	return pe
}

// SetupLink creates a Checkout Session in setup mode where the customer
// saves a payment method, and returns its URL. Cancelling returns to
// successURL as well: the caller's page shows whatever state results.
func (p *Provider) SetupLink(ctx context.Context, c *paysync.Customer, providerCustomerID, successURL string, idempotencyKey string) (string, error) {
	methods := []string{"card"}
	if c != nil && len(c.ProviderPaymentMethods) > 0 {
		methods = c.ProviderPaymentMethods
	}
	ctx, last := providers.WithLastResponse(ctx)
	params := &stripego.CheckoutSessionParams{
		Mode:               stripego.String(string(stripego.CheckoutSessionModeSetup)),
		Customer:           stripego.String(providerCustomerID),
		PaymentMethodTypes: stripego.StringSlice(methods),
		SuccessURL:         stripego.String(successURL),
		CancelURL:          stripego.String(successURL),
	}
	params.Context = ctx
	if idempotencyKey != "" {
		params.IdempotencyKey = stripego.String(idempotencyKey)
	}
	s, err := p.api.CheckoutSessions.New(params)
	if err != nil {
		return "", classify(err, last)
	}
	return s.URL, nil
}

func notFound(msg string) *paysync.ProviderError {
	return &paysync.ProviderError{Provider: paysync.Stripe, Code: paysync.CodeCustomerNotFound, Message: msg, HTTPStatus: http.StatusNotFound}
}
