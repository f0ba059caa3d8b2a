// Package braintree creates paysync customers at Braintree and reads
// whether they have a vaulted payment method, through braintree-go and
// Braintree's XML gateway API.
//
// Braintree has no idempotency keys. Instead the adapter chooses the
// customer id itself (see CustomerID): a retry of the same link generation
// asks for the same id, Braintree refuses it with validation error 91609
// "Customer ID has already been taken", and the adapter adopts the customer
// the earlier attempt created.
//
// Braintree has no hosted page to collect a payment method, so Provider
// offers no SetupLink.
package braintree

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

// codeIDTaken is Braintree's "Customer ID has already been taken".
const codeIDTaken = "91609"

// Provider is a Braintree connection. It is safe for concurrent use.
type Provider struct {
	gw *bt.Braintree
	// publicKey names the connection's API key in webhook signatures;
	// hmacKey is SHA-1(private key), the key Braintree signs them with.
	publicKey string
	hmacKey   [sha1.Size]byte
}

var _ paysync.Provider = (*Provider)(nil)

// New returns the adapter for conn. Credentials: merchant_id, public_key and
// private_key (required), environment sandbox|production (default sandbox). The
// same key pair verifies the connection's webhooks (see VerifyWebhook).
// conn.BaseURL, when set, replaces the environment's endpoint. Requests go
// through client (http.DefaultClient's transport with a 60 s timeout when nil).
func New(conn paysync.Connection, client *http.Client) (*Provider, error) {
	creds := conn.Credentials
	for _, k := range []string{"merchant_id", "public_key", "private_key"} {
		if creds[k] == "" {
			return nil, fmt.Errorf("braintree: credentials.%s is required", k)
		}
	}
	var env bt.Environment
	switch creds["environment"] {
	case "", "sandbox":
		env = bt.Sandbox
	case "production":
		env = bt.Production
	default:
		return nil, fmt.Errorf("braintree: credentials.environment must be sandbox or production, not %q", creds["environment"])
	}
	if conn.BaseURL != "" {
		env = bt.NewEnvironment(strings.TrimRight(conn.BaseURL, "/"))
	}
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	// braintree-go turns a bare 429 into an error without headers; the
	// recording transport keeps them (Retry-After) and the body (payment
	// method types braintree-go does not parse) for the call in flight.
	c := *client
	c.Transport = providers.RecordingTransport{Next: c.Transport}
	gw := bt.NewWithHttpClient(env, creds["merchant_id"], creds["public_key"], creds["private_key"], &c)
	return &Provider{gw: gw, publicKey: creds["public_key"], hmacKey: sha1.Sum([]byte(creds["private_key"]))}, nil
}

// CustomerID is the Braintree customer id for a link generation. Braintree
// ids allow letters, digits, "-" and "_", up to 36 characters. The scheme:
//
//	"ps" + the link id's 32 hex digits (a UUID without dashes) + the
//	generation in base 36 (1 or 2 characters, generations 0-1295)
//
// and, when the link id is not a UUID or the generation does not fit,
// "ps_" + the first 33 hex digits of SHA-256(link id + "/" + generation).
// Both are deterministic, so every attempt of one generation asks
// Braintree for the same id.
func CustomerID(link *paysync.ProviderLink) string {
	hexID := strings.ToLower(strings.ReplaceAll(link.ID, "-", ""))
	if len(hexID) == 32 && isHex(hexID) && link.Generation >= 0 && link.Generation < 36*36 {
		return "ps" + hexID + strconv.FormatInt(int64(link.Generation), 36)
	}
	sum := sha256.Sum256([]byte(link.ID + "/" + strconv.Itoa(link.Generation)))
	return "ps_" + hex.EncodeToString(sum[:])[:33]
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// CreateCustomer creates the customer under CustomerID(req.Link), or adopts
// the one an earlier attempt created under that id. The happy path is one
// call: the create request carries no payment method nonce or card, so
// the new customer has none. An adopted one is found, and its answer
// tells its payment methods: two calls.
func (p *Provider) CreateCustomer(ctx context.Context, req paysync.CreateCustomerRequest) (paysync.ProviderCustomer, error) {
	if req.Customer == nil || req.Link == nil {
		return paysync.ProviderCustomer{}, &paysync.ProviderError{Provider: paysync.Braintree, Code: "invalid_request", Message: "customer and link are required"}
	}
	id := CustomerID(req.Link)
	cctx, x := providers.WithLastResponse(ctx)
	created, err := p.gw.Customer().Create(cctx, customerRequest(id, req.Customer))
	if err == nil {
		return paysync.ProviderCustomer{ID: created.Id}, nil
	}
	if !idTaken(err) {
		return paysync.ProviderCustomer{}, classify(err, x)
	}
	st, err := p.CustomerStatus(ctx, id)
	if err != nil {
		return paysync.ProviderCustomer{}, err
	}
	return paysync.ProviderCustomer{ID: id, CustomerStatus: st}, nil
}

// customerRequest maps a paysync customer to Braintree's fields. Custom
// fields are left out: each one must be configured in the merchant's
// control panel first, or Braintree refuses the customer.
func customerRequest(id string, c *paysync.Customer) *bt.CustomerRequest {
	first, last := c.FirstName, c.LastName
	if first == "" && last == "" {
		first, last, _ = strings.Cut(strings.TrimSpace(c.Name), " ")
		last = strings.TrimSpace(last)
	}
	return &bt.CustomerRequest{
		ID:        id,
		FirstName: first,
		LastName:  last,
		Company:   c.LegalName,
		Email:     c.Email,
		Phone:     c.Phone,
		Website:   c.URL,
	}
}

// idTaken reports a 422 whose customer errors include 91609.
func idTaken(err error) bool {
	var be *bt.BraintreeError
	if !errors.As(err, &be) {
		return false
	}
	for _, ve := range be.All() {
		if ve.Code == codeIDTaken {
			return true
		}
	}
	return false
}

// CustomerStatus finds the customer and reports whether any payment method
// is vaulted for it.
func (p *Provider) CustomerStatus(ctx context.Context, providerCustomerID string) (paysync.CustomerStatus, error) {
	ctx, x := providers.WithLastResponseBody(ctx)
	c, err := p.gw.Customer().Find(ctx, providerCustomerID)
	if err != nil {
		return paysync.CustomerStatus{}, classify(err, x)
	}
	has := len(c.PaymentMethods()) > 0
	if !has {
		has, err = otherPaymentMethods(x)
		if err != nil {
			return paysync.CustomerStatus{}, &paysync.ProviderError{Provider: paysync.Braintree, Code: "invalid_response", Message: err.Error(), HTTPStatus: x.Status, Retryable: true}
		}
	}
	return paysync.CustomerStatus{HasPaymentMethod: has}, nil
}
