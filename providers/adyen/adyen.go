// Package adyen syncs paysync customers to Adyen through the Checkout API
// v71 with the official Go library.
//
// Adyen has no customer object: a customer is the shopperReference that its
// stored payment methods (tokens) hang off. The provider customer id paysync
// stores is therefore that reference, derived from the customer's external
// id, so creating one can never produce a duplicate.
//
// Credentials: api_key and merchant_account (required), live_prefix
// (optional; selects the live endpoint), shopper_reference_prefix
// (optional) and hmac_key (the webhook's hex HMAC key; needed to accept
// webhooks, see VerifyWebhook). Connection.BaseURL replaces the whole
// Checkout endpoint, version path included (for example an emulator's
// ".../v71" or a Prism URL).
package adyen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	adyenapi "github.com/adyen/adyen-go-api-library/v9/src/adyen"
	"github.com/adyen/adyen-go-api-library/v9/src/checkout"
	"github.com/adyen/adyen-go-api-library/v9/src/common"

	"github.com/paysync/paysync"
)

// Checkout endpoints, version included.
const (
	TestEndpoint = "https://checkout-test.adyen.com/v71"
	// liveEndpoint takes the merchant's live URL prefix.
	liveEndpoint = "https://%s-checkout-live.adyenpayments.com/checkout/v71"
)

// Adyen accepts shopper references of 3 to 256 characters.
const (
	minShopperReference = 3
	maxShopperReference = 256
)

// Idempotency keys may be at most 64 characters at Adyen.
const maxIdempotencyKey = 64

// setupCurrency is used for the zero-amount setup link when the customer
// has no currency of its own.
const setupCurrency = "EUR"

var livePrefixPattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)

// Provider is the Adyen adapter for one connection.
type Provider struct {
	checkout        *checkout.APIClient
	merchantAccount string
	refPrefix       string
	hmacKey         []byte
}

var _ paysync.Provider = (*Provider)(nil)

// New builds the adapter for conn. Every request goes through client (nil
// means a client with a 30 s timeout), so a rate-limiting transport on it
// applies to the library's calls too.
func New(conn paysync.Connection, client *http.Client) (*Provider, error) {
	cred := func(key string) string { return strings.TrimSpace(conn.Credentials[key]) }
	apiKey := cred("api_key")
	merchant := cred("merchant_account")
	livePrefix := strings.TrimSpace(conn.Credentials["live_prefix"])
	for _, missing := range []struct{ field, value string }{{"api_key", apiKey}, {"merchant_account", merchant}} {
		if missing.value == "" {
			return nil, configError(conn, "credentials."+missing.field, "value_is_mandatory", "credentials.%s is required", missing.field)
		}
	}
	if livePrefix != "" && !livePrefixPattern.MatchString(livePrefix) {
		return nil, configError(conn, "credentials.live_prefix", "invalid_value", "credentials.live_prefix must be a host name label")
	}
	hmacKey, err := parseHMACKey(conn, cred("hmac_key"))
	if err != nil {
		return nil, err
	}

	endpoint := TestEndpoint
	env := common.TestEnv
	if livePrefix != "" {
		env = common.LiveEnv
		endpoint = fmt.Sprintf(liveEndpoint, livePrefix)
	}
	if conn.BaseURL != "" {
		endpoint = strings.TrimRight(conn.BaseURL, "/")
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	api := adyenapi.NewClient(&common.Config{
		ApiKey:                apiKey,
		Environment:           env,
		LiveEndpointURLPrefix: livePrefix,
		HTTPClient:            client,
	})
	// NewClient derives the endpoint from the environment; ours wins, as the
	// library documents for mocks and custom hosts.
	api.GetConfig().CheckoutEndpoint = endpoint
	return &Provider{
		// Checkout() initialises lazily and unguarded: do it once here so
		// concurrent jobs share one service value.
		checkout:        api.Checkout(),
		merchantAccount: merchant,
		refPrefix:       conn.Credentials["shopper_reference_prefix"],
		hmacKey:         hmacKey,
	}, nil
}

func configError(conn paysync.Connection, field, reason, format string, args ...any) error {
	return &paysync.Error{
		Code:    paysync.EMISSINGCONFIG,
		Message: fmt.Sprintf("adyen connection %q: ", conn.Code) + fmt.Sprintf(format, args...),
		Fields:  map[string][]string{field: {reason}},
	}
}

// ShopperReference is the Adyen shopperReference of a paysync customer.
func (p *Provider) ShopperReference(c *paysync.Customer) string { return p.refPrefix + c.ExternalID }

// CreateCustomer returns the customer's shopperReference with its stored
// payment methods. Nothing is created at Adyen: the one call is the read
// of the shopper's stored payment methods, which also fails the link now,
// permanently, on a wrong API key or merchant account. A shopper reference
// used before (the same external id) may already hold a token, so it is
// read, never assumed empty.
func (p *Provider) CreateCustomer(ctx context.Context, req paysync.CreateCustomerRequest) (paysync.ProviderCustomer, error) {
	if req.Customer == nil {
		return paysync.ProviderCustomer{}, &paysync.ProviderError{Provider: paysync.Adyen, Code: "invalid_request", Message: "no customer given"}
	}
	ref := p.ShopperReference(req.Customer)
	if n := len(ref); n < minShopperReference || n > maxShopperReference {
		return paysync.ProviderCustomer{}, &paysync.ProviderError{Provider: paysync.Adyen, Code: "invalid_shopper_reference",
			Message: fmt.Sprintf("the shopper reference must be %d to %d characters, got %d", minShopperReference, maxShopperReference, n)}
	}
	st, err := p.CustomerStatus(ctx, ref)
	if err != nil {
		return paysync.ProviderCustomer{}, err
	}
	return paysync.ProviderCustomer{ID: ref, CustomerStatus: st}, nil
}

// CustomerStatus reads the shopper's stored payment methods. Adyen knows no
// missing shopper: an unknown reference simply has none.
func (p *Provider) CustomerStatus(ctx context.Context, providerCustomerID string) (paysync.CustomerStatus, error) {
	methods, err := p.storedPaymentMethods(ctx, providerCustomerID)
	if err != nil {
		return paysync.CustomerStatus{}, err
	}
	return paysync.CustomerStatus{HasPaymentMethod: len(methods) > 0}, nil
}

func (p *Provider) storedPaymentMethods(ctx context.Context, shopperReference string) ([]checkout.StoredPaymentMethodResource, error) {
	api := p.checkout.RecurringApi
	in := api.GetTokensForStoredPaymentDetailsInput().ShopperReference(shopperReference).MerchantAccount(p.merchantAccount)
	var out checkout.ListStoredPaymentMethodsResponse
	err := call(func() (*http.Response, error) {
		var res *http.Response
		var err error
		out, res, err = api.GetTokensForStoredPaymentDetails(ctx, in)
		return res, err
	})
	return out.StoredPaymentMethods, err
}

// SetupLink creates a zero-amount Pay by Link page on which the shopper
// stores a card for later unscheduled charges, and returns its URL.
// providerCustomerID is the shopperReference (derived from c when empty);
// the same idempotencyKey returns the same link.
func (p *Provider) SetupLink(ctx context.Context, c *paysync.Customer, providerCustomerID, returnURL, idempotencyKey string) (string, error) {
	if c == nil || idempotencyKey == "" {
		return "", &paysync.ProviderError{Provider: paysync.Adyen, Code: "invalid_request", Message: "a customer and an idempotency key are required"}
	}
	ref := providerCustomerID
	if ref == "" {
		ref = p.ShopperReference(c)
	}
	currency := c.Currency
	if currency == "" {
		currency = setupCurrency
	}
	key := fitKey(idempotencyKey)
	req := checkout.PaymentLinkRequest{
		Amount:          checkout.Amount{Currency: currency, Value: 0},
		MerchantAccount: p.merchantAccount,
		// The reference ties the link to one setup attempt; the key already
		// names one, and repeats must carry the same body.
		Reference:                key,
		ShopperReference:         common.PtrString(ref),
		StorePaymentMethodMode:   common.PtrString("enabled"),
		RecurringProcessingModel: common.PtrString("UnscheduledCardOnFile"),
	}
	if returnURL != "" {
		req.ReturnUrl = common.PtrString(returnURL)
	}
	api := p.checkout.PaymentLinksApi
	var link checkout.PaymentLinkResponse
	err := call(func() (*http.Response, error) {
		var res *http.Response
		var err error
		link, res, err = api.PaymentLinks(ctx, api.PaymentLinksInput().IdempotencyKey(key).PaymentLinkRequest(req))
		return res, err
	})
	if err != nil {
		return "", err
	}
	if link.Url == "" {
		return "", &paysync.ProviderError{Provider: paysync.Adyen, Code: "invalid_response", HTTPStatus: http.StatusCreated,
			Message: "the payment link has no url", Retryable: true}
	}
	return link.Url, nil
}

// fitKey keeps keys within Adyen's 64 characters; longer ones are replaced
// by their SHA-256, which stays stable across retries.
func fitKey(key string) string {
	if len(key) <= maxIdempotencyKey {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
