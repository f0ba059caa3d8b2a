package stripe_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers/stripe"
)

// sent is one request as it left the adapter.
type sent struct {
	Method string
	Path   string
	Header http.Header
	Form   url.Values // body for POST, query otherwise
}

// recorder is an http.RoundTripper that keeps every request it carries.
type recorder struct {
	mu   sync.Mutex
	sent []sent
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	s := sent{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Form: req.URL.Query()}
	out := req.Clone(req.Context())
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(body) > 0 {
			if s.Form, err = url.ParseQuery(string(body)); err != nil {
				return nil, err
			}
		}
		out.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.sent = append(r.sent, s)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(out)
}

func (r *recorder) requests() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.sent...)
}

// newProvider returns an adapter for baseURL whose requests r records.
func newProvider(t *testing.T, baseURL, key string) (*stripe.Provider, *recorder) {
	t.Helper()
	r := &recorder{}
	p, err := stripe.New(paysync.Connection{
		Provider:    paysync.Stripe,
		Code:        "test",
		BaseURL:     baseURL,
		Credentials: map[string]string{"secret_key": key},
	}, &http.Client{Transport: r})
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}

// providerError asserts err is a *paysync.ProviderError from Stripe.
func providerError(t *testing.T, err error) *paysync.ProviderError {
	t.Helper()
	var pe *paysync.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *paysync.ProviderError", err, err)
	}
	if pe.Provider != paysync.Stripe {
		t.Errorf("ProviderError.Provider = %q, want stripe", pe.Provider)
	}
	return pe
}

// fullCustomer sets every field the adapter sends. Its link is at the first
// attempt of generation 1, the one case CreateCustomer does not search first.
func fullCustomer() (*paysync.Customer, *paysync.ProviderLink) {
	link := &paysync.ProviderLink{ID: "lnk_0001", CustomerID: "c_0001", Provider: paysync.Stripe, Generation: 1, State: paysync.SyncPending}
	c := &paysync.Customer{
		ID:             "c_0001",
		ExternalID:     "ext-0001",
		Name:           "Acme Corp",
		Email:          "billing@example.com",
		Phone:          "+33102030405",
		DocumentLocale: "fr",
		BillingAddress: paysync.Address{
			Line1: "1 Rue de la Paix", Line2: "Bat. B", City: "Paris", State: "IDF", PostalCode: "75002", Country: "FR",
		},
		ShippingAddress: paysync.Address{Line1: "2 Quai Branly", City: "Paris", PostalCode: "75007", Country: "FR"},
		Link:            link,
	}
	return c, link
}
