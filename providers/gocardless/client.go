package gocardless

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

// apiVersion is the GoCardless-Version every request carries.
const apiVersion = "2015-07-06"

// apiClient is a small typed client for the GoCardless endpoints paysync uses.
// Every answer that is not a success comes back as a *paysync.ProviderError
// from classify, except an idempotent creation conflict, which create
// methods turn into the id of the resource the key already created.
type apiClient struct {
	base  string
	token string
	http  *http.Client
	now   func() time.Time
}

// customer is a GoCardless customer, as sent and as received.
type customer struct {
	ID           string            `json:"id,omitempty"`
	CreatedAt    string            `json:"created_at,omitempty"`
	Email        string            `json:"email,omitempty"`
	GivenName    string            `json:"given_name,omitempty"`
	FamilyName   string            `json:"family_name,omitempty"`
	CompanyName  string            `json:"company_name,omitempty"`
	AddressLine1 string            `json:"address_line1,omitempty"`
	AddressLine2 string            `json:"address_line2,omitempty"`
	City         string            `json:"city,omitempty"`
	Region       string            `json:"region,omitempty"`
	PostalCode   string            `json:"postal_code,omitempty"`
	CountryCode  string            `json:"country_code,omitempty"`
	PhoneNumber  string            `json:"phone_number,omitempty"`
	Language     string            `json:"language,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// mandate is the part of a GoCardless mandate paysync reads.
type mandate struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Scheme string `json:"scheme"`
	Links  struct {
		Customer string `json:"customer"`
	} `json:"links"`
}

// billingRequest is a mandate-only billing request.
type billingRequest struct {
	ID             string          `json:"id,omitempty"`
	Status         string          `json:"status,omitempty"`
	MandateRequest *mandateRequest `json:"mandate_request,omitempty"`
	Links          *links          `json:"links,omitempty"`
}

type mandateRequest struct {
	Scheme   string `json:"scheme,omitempty"`
	Currency string `json:"currency,omitempty"`
}

type links struct {
	Customer       string `json:"customer,omitempty"`
	Creditor       string `json:"creditor,omitempty"`
	BillingRequest string `json:"billing_request,omitempty"`
}

// flow is a billing request flow: the hosted page a payer sets up a
// mandate on.
type flow struct {
	ID               string `json:"id,omitempty"`
	AuthorisationURL string `json:"authorisation_url,omitempty"`
	RedirectURI      string `json:"redirect_uri,omitempty"`
	ExitURI          string `json:"exit_uri,omitempty"`
	Language         string `json:"language,omitempty"`
	Links            *links `json:"links,omitempty"`
}

// createCustomer returns the customer's id, and whether it is one an
// earlier request with the same key created.
func (c *apiClient) createCustomer(ctx context.Context, in customer, key string) (id string, adopted bool, err error) {
	var out struct {
		Customers customer `json:"customers"`
	}
	conflictID, err := c.create(ctx, "/customers", key, map[string]any{"customers": in}, &out)
	if err != nil {
		return "", false, err
	}
	if conflictID != "" {
		return conflictID, true, nil
	}
	return out.Customers.ID, false, c.requireID(out.Customers.ID)
}

func (c *apiClient) getCustomer(ctx context.Context, id string) (customer, error) {
	var out struct {
		Customers customer `json:"customers"`
	}
	err := c.get(ctx, "/customers/"+url.PathEscape(id), nil, &out)
	return out.Customers, err
}

func (c *apiClient) getMandate(ctx context.Context, id string) (mandate, error) {
	var out struct {
		Mandates mandate `json:"mandates"`
	}
	err := c.get(ctx, "/mandates/"+url.PathEscape(id), nil, &out)
	return out.Mandates, err
}

// listMandates lists one page of the customer's mandates in the given
// statuses, sent as GoCardless's comma list.
func (c *apiClient) listMandates(ctx context.Context, customerID string, statuses []string, limit int) ([]mandate, error) {
	q := url.Values{"customer": {customerID}, "limit": {strconv.Itoa(limit)}}
	if len(statuses) > 0 {
		q.Set("status", strings.Join(statuses, ","))
	}
	var out struct {
		Mandates []mandate `json:"mandates"`
	}
	err := c.get(ctx, "/mandates", q, &out)
	return out.Mandates, err
}

// createBillingRequest returns the billing request's id, and whether it is
// one an earlier request with the same key created.
func (c *apiClient) createBillingRequest(ctx context.Context, in billingRequest, key string) (id string, adopted bool, err error) {
	var out struct {
		BillingRequests billingRequest `json:"billing_requests"`
	}
	conflictID, err := c.create(ctx, "/billing_requests", key, map[string]any{"billing_requests": in}, &out)
	if err != nil {
		return "", false, err
	}
	if conflictID != "" {
		return conflictID, true, nil
	}
	return out.BillingRequests.ID, false, c.requireID(out.BillingRequests.ID)
}

// createFlow creates a billing request flow. GoCardless has no endpoint to
// read a flow back, so a conflict cannot be adopted: callers send a key
// that is fresh for each attempt.
func (c *apiClient) createFlow(ctx context.Context, in flow, key string) (flow, error) {
	var out struct {
		Flows flow `json:"billing_request_flows"`
	}
	id, err := c.create(ctx, "/billing_request_flows", key, map[string]any{"billing_request_flows": in}, &out)
	if err != nil {
		return flow{}, err
	}
	if id != "" {
		return flow{}, &paysync.ProviderError{Provider: paysync.GoCardless, Code: "idempotent_creation_conflict", HTTPStatus: http.StatusConflict,
			Message: "billing request flow " + id + " already exists for this idempotency key and cannot be read back"}
	}
	if out.Flows.AuthorisationURL == "" {
		return flow{}, c.invalid(http.StatusCreated, "billing request flow without authorisation_url")
	}
	return out.Flows, nil
}

// create POSTs a resource. A repeat of a key that already created one
// answers 409 idempotent_creation_conflict: its id comes back as conflictID.
func (c *apiClient) create(ctx context.Context, path, key string, in, out any) (conflictID string, err error) {
	return c.do(ctx, http.MethodPost, path, nil, key, in, out)
}

func (c *apiClient) get(ctx context.Context, path string, q url.Values, out any) error {
	conflictID, err := c.do(ctx, http.MethodGet, path, q, "", nil, out)
	if err == nil && conflictID != "" {
		return c.invalid(http.StatusConflict, "idempotency conflict on a read")
	}
	return err
}

// do sends one request and classifies its outcome.
func (c *apiClient) do(ctx context.Context, method, path string, q url.Values, key string, in, out any) (string, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return "", &paysync.ProviderError{Provider: paysync.GoCardless, Code: "invalid_request", Message: err.Error()}
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return "", &paysync.ProviderError{Provider: paysync.GoCardless, Code: "invalid_request", Message: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("GoCardless-Version", apiVersion)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "paysync")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		_, pe := classify(outcome{Err: err}, c.now())
		return "", pe
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		_, pe := classify(outcome{Err: err}, c.now())
		return "", pe
	}
	o := outcome{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if o.Status >= 200 && o.Status < 300 {
		if out == nil {
			return "", nil
		}
		o.Err = json.Unmarshal(data, out)
		if o.Err == nil {
			return "", nil
		}
	}
	conflictID, pe := classify(o, c.now())
	if pe != nil {
		return "", pe
	}
	return conflictID, nil
}

// requireID rejects a success answer without the created resource's id.
func (c *apiClient) requireID(id string) error {
	if id == "" {
		return c.invalid(http.StatusCreated, "created resource without an id")
	}
	return nil
}

// invalid reports an answer that does not make sense, through classify so
// that retrying it is decided in one place.
func (c *apiClient) invalid(status int, msg string) error {
	_, pe := classify(outcome{Status: status, Err: errString(msg)}, c.now())
	return pe
}

type errString string

func (e errString) Error() string { return string(e) }
