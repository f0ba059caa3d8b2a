// Package gocardless syncs paysync customers to GoCardless: it creates
// customers, reads whether they have a usable mandate, and builds setup
// links (billing request flows). GoCardless has no Go SDK here, so the
// package carries its own small client over net/http.
package gocardless

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paysync/paysync"
)

// Endpoints of GoCardless's two environments.
const (
	LiveURL    = "https://api.gocardless.com"
	SandboxURL = "https://api-sandbox.gocardless.com"
)

// usableMandate lists the mandate statuses that can (or soon will) collect
// payments: a customer with one has a payment method.
var usableMandate = []string{"pending_customer_approval", "pending_submission", "submitted", "active"}

// Provider is the GoCardless adapter for one connection.
type Provider struct {
	api *apiClient
	// scheme is the credentials' fixed mandate scheme; empty picks one by currency.
	scheme string
	// creditor is the credentials' creditor_id, needed by accounts with several creditors.
	creditor string
	// webhookSecret is the webhook endpoint's secret; empty rejects every webhook.
	webhookSecret string
}

var _ paysync.Provider = (*Provider)(nil)

// New builds the adapter for conn. Credentials: access_token (required),
// environment (live | sandbox, default sandbox), and optionally scheme,
// creditor_id and webhook_secret (the webhook endpoint's secret; without it
// every webhook is rejected). conn.BaseURL overrides
// the environment's endpoint. A nil client means one with a 30 s timeout.
func New(conn paysync.Connection, client *http.Client) (*Provider, error) {
	token := conn.Credentials["access_token"]
	if token == "" {
		return nil, &paysync.Error{Code: paysync.EINVALID, Message: "credentials.access_token is required",
			Fields: map[string][]string{"credentials.access_token": {"value_is_mandatory"}}}
	}
	base := SandboxURL
	switch env := conn.Credentials["environment"]; env {
	case "", "sandbox":
	case "live":
		base = LiveURL
	default:
		return nil, &paysync.Error{Code: paysync.EINVALID, Message: "credentials.environment must be live or sandbox",
			Fields: map[string][]string{"credentials.environment": {"invalid_value"}}}
	}
	if conn.BaseURL != "" {
		base = conn.BaseURL
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	secret := conn.Credentials[webhookSecretCredential]
	return &Provider{
		api:           &apiClient{base: strings.TrimRight(base, "/"), token: token, http: client, now: time.Now},
		scheme:        conn.Credentials["scheme"],
		creditor:      conn.Credentials["creditor_id"],
		webhookSecret: secret,
	}, nil
}

// CreateCustomer implements paysync.Provider. The request's idempotency key
// is GoCardless's Idempotency-Key: a repeat after success answers 409 with
// the customer the key created, which is adopted. The happy path is one
// call: a customer is created without mandates (they come from a billing
// request later), so it has no payment method. An adopted one may have a
// mandate by now: its mandates are listed (the 409 proves it exists).
func (p *Provider) CreateCustomer(ctx context.Context, req paysync.CreateCustomerRequest) (paysync.ProviderCustomer, error) {
	if req.Customer == nil {
		return paysync.ProviderCustomer{}, &paysync.ProviderError{Provider: paysync.GoCardless, Code: "invalid_request", Message: "no customer to create"}
	}
	key := req.IdempotencyKey
	if key == "" && req.Link != nil {
		key = req.Link.IdempotencyKey()
	}
	id, adopted, err := p.api.createCustomer(ctx, customerParams(req.Customer), key)
	if err != nil || !adopted {
		return paysync.ProviderCustomer{ID: id}, err
	}
	has, err := p.hasMandate(ctx, id)
	return paysync.ProviderCustomer{ID: id, CustomerStatus: paysync.CustomerStatus{HasPaymentMethod: has}}, err
}

// hasMandate reports whether the customer has a mandate that can collect.
func (p *Provider) hasMandate(ctx context.Context, customerID string) (bool, error) {
	mandates, err := p.api.listMandates(ctx, customerID, usableMandate, 1)
	return len(mandates) > 0, err
}

// CustomerStatus implements paysync.Provider: the customer must load, and
// any mandate that can collect counts as a payment method.
func (p *Provider) CustomerStatus(ctx context.Context, providerCustomerID string) (paysync.CustomerStatus, error) {
	if providerCustomerID == "" {
		return paysync.CustomerStatus{}, notFound("no customer id", 0)
	}
	if _, err := p.api.getCustomer(ctx, providerCustomerID); err != nil {
		// A removed customer cannot be loaded either: both mean "gone".
		var pe *paysync.ProviderError
		if errors.As(err, &pe) && (pe.HTTPStatus == http.StatusNotFound || pe.HTTPStatus == http.StatusGone) {
			return paysync.CustomerStatus{}, notFound(pe.Message, pe.HTTPStatus)
		}
		return paysync.CustomerStatus{}, err
	}
	has, err := p.hasMandate(ctx, providerCustomerID)
	if err != nil {
		return paysync.CustomerStatus{}, err
	}
	return paysync.CustomerStatus{HasPaymentMethod: has}, nil
}

// SetupLink creates a billing request for a mandate and a flow for it, and
// returns the flow's authorisation_url, where the customer sets up Direct
// Debit and then returns to returnURL.
func (p *Provider) SetupLink(ctx context.Context, c *paysync.Customer, providerCustomerID, returnURL, idempotencyKey string) (string, error) {
	if providerCustomerID == "" {
		return "", notFound("no customer id", 0)
	}
	var currency, locale string
	if c != nil {
		currency, locale = c.Currency, c.DocumentLocale
	}
	mr := &mandateRequest{Scheme: p.scheme}
	if mr.Scheme == "" {
		if s, ok := schemeByCurrency[currency]; ok {
			mr.Scheme, mr.Currency = s, currency
		}
	}
	if idempotencyKey == "" {
		// A shared empty-derived key would hand one customer's billing
		// request to the next: without a key, each call is its own.
		idempotencyKey = "paysync-setup-" + nonce()
	}
	br := billingRequest{MandateRequest: mr, Links: &links{Customer: providerCustomerID, Creditor: p.creditor}}
	newFlow := func(brID string) (flow, error) {
		// Flows cannot be read back after an idempotency conflict, and an
		// extra flow for one billing request costs nothing: a fresh key each.
		return p.api.createFlow(ctx, flow{
			RedirectURI: returnURL,
			ExitURI:     returnURL,
			Language:    language(locale),
			Links:       &links{BillingRequest: brID},
		}, idempotencyKey+"-flow-"+nonce())
	}
	// One billing request per key: a retry adopts the one already created.
	brID, adopted, err := p.api.createBillingRequest(ctx, br, idempotencyKey+"-billing-request")
	if err != nil {
		return "", err
	}
	f, err := newFlow(brID)
	var pe *paysync.ProviderError
	if err != nil && adopted && errors.As(err, &pe) && !pe.Retryable {
		// The key's billing request is no longer pending (the customer went
		// through it already): a new link needs a new billing request.
		if brID, _, err = p.api.createBillingRequest(ctx, br, idempotencyKey+"-billing-request-"+nonce()); err != nil {
			return "", err
		}
		f, err = newFlow(brID)
	}
	if err != nil {
		return "", err
	}
	return f.AuthorisationURL, nil
}

// schemeByCurrency is the Direct Debit scheme GoCardless uses for each
// currency it collects.
var schemeByCurrency = map[string]string{
	"GBP": "bacs",
	"EUR": "sepa_core",
	"USD": "ach",
	"SEK": "autogiro",
	"DKK": "betalingsservice",
	"AUD": "becs",
	"NZD": "becs_nz",
	"CAD": "pad",
}

// languages GoCardless sends customer notifications in.
var languages = map[string]bool{"da": true, "de": true, "en": true, "es": true, "fi": true, "fr": true,
	"it": true, "nb": true, "nl": true, "pt": true, "sl": true, "sv": true}

// language maps a document locale ("fr", "fr-FR", "pt_BR") to a GoCardless
// language, or "" when GoCardless has none for it.
func language(locale string) string {
	lang := strings.ToLower(locale)
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	if lang == "no" {
		lang = "nb"
	}
	if languages[lang] {
		return lang
	}
	return ""
}

// Metadata keys paysync writes; GoCardless allows three keys and values of
// up to 500 characters.
const (
	metaCustomerID = "paysync_customer_id"
	metaExternalID = "paysync_external_id"
	maxMetaValue   = 500
)

// customerParams maps a paysync customer to GoCardless's fields.
func customerParams(c *paysync.Customer) customer {
	given, family := c.FirstName, c.LastName
	company := c.LegalName
	if company == "" && c.CustomerType == "company" {
		company = c.Name
	}
	if given == "" && family == "" && c.CustomerType != "company" {
		given, family = splitName(c.Name)
	}
	// GoCardless needs a given and family name or a company name; a lone
	// name that cannot be split is sent as the company name.
	if company == "" && (given == "" || family == "") {
		company = c.Name
	}
	email, _, _ := strings.Cut(c.Email, ",") // Lago allows a comma list; GoCardless takes one address
	meta := map[string]string{metaCustomerID: truncate(c.ID, maxMetaValue)}
	if c.ExternalID != "" {
		meta[metaExternalID] = truncate(c.ExternalID, maxMetaValue)
	}
	a := c.BillingAddress
	return customer{
		Email:        strings.TrimSpace(email),
		GivenName:    given,
		FamilyName:   family,
		CompanyName:  company,
		AddressLine1: a.Line1,
		AddressLine2: a.Line2,
		City:         a.City,
		Region:       a.State,
		PostalCode:   a.PostalCode,
		CountryCode:  strings.ToUpper(a.Country),
		PhoneNumber:  c.Phone,
		Language:     language(c.DocumentLocale),
		Metadata:     meta,
	}
}

// splitName splits "Ada King Lovelace" into "Ada King" and "Lovelace".
func splitName(name string) (given, family string) {
	parts := strings.Fields(name)
	if len(parts) < 2 {
		return strings.Join(parts, ""), ""
	}
	return strings.Join(parts[:len(parts)-1], " "), parts[len(parts)-1]
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// notFound is the permanent error for a customer GoCardless does not have.
func notFound(msg string, status int) *paysync.ProviderError {
	return &paysync.ProviderError{Provider: paysync.GoCardless, Code: paysync.CodeCustomerNotFound,
		Message: msg, HTTPStatus: status}
}

// nonce returns 8 random hex digits.
func nonce() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
