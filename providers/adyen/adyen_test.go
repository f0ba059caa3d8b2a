package adyen_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers/adyen"
	"github.com/paysync/paysync/sandbox"
	"github.com/paysync/paysync/sandbox/adyenemu"
	"github.com/paysync/paysync/sandbox/fault"
)

const (
	testKey      = "test_key_for_adapter"
	testMerchant = "TestMerchantECOM"
)

// emulator starts an Adyen emulator that knows testKey for testMerchant.
func emulator(t *testing.T) (*adyenemu.Emulator, *httptest.Server) {
	t.Helper()
	emu := adyenemu.New()
	emu.AddAPIKey(testKey, testMerchant)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv
}

func newProvider(t *testing.T, baseURL string, creds map[string]string) *adyen.Provider {
	t.Helper()
	if creds == nil {
		creds = map[string]string{"api_key": testKey, "merchant_account": testMerchant}
	}
	p, err := adyen.New(paysync.Connection{Provider: paysync.Adyen, Code: "test", Credentials: creds, BaseURL: baseURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func customer(externalID string) *paysync.Customer {
	return &paysync.Customer{ID: "cus-" + externalID, ExternalID: externalID, Currency: "USD"}
}

func createReq(c *paysync.Customer) paysync.CreateCustomerRequest {
	link := &paysync.ProviderLink{ID: "link-" + c.ID, Generation: 1, Provider: paysync.Adyen}
	return paysync.CreateCustomerRequest{Customer: c, Link: link, IdempotencyKey: link.IdempotencyKey()}
}

// providerError fails the test unless err is a *paysync.ProviderError of Adyen.
func providerError(t *testing.T, err error) *paysync.ProviderError {
	t.Helper()
	var pe *paysync.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("want *paysync.ProviderError, got %T: %v", err, err)
	}
	if pe.Provider != paysync.Adyen {
		t.Errorf("provider = %q, want adyen", pe.Provider)
	}
	return pe
}

func TestCreateCustomerReturnsTheSameReferenceTwice(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", map[string]string{
		"api_key": testKey, "merchant_account": testMerchant, "shopper_reference_prefix": "org1-",
	})
	c := customer("cust_001")
	ctx := context.Background()
	first, err := idOf(p.CreateCustomer(ctx, createReq(c)))
	if err != nil {
		t.Fatal(err)
	}
	second, err := idOf(p.CreateCustomer(ctx, createReq(c)))
	if err != nil {
		t.Fatal(err)
	}
	if first != "org1-cust_001" || second != first {
		t.Fatalf("references = %q, %q; want org1-cust_001 twice", first, second)
	}
	// Each create made exactly its one read-only check and created nothing.
	if got := emu.Faults.Requests(); got != 2 {
		t.Errorf("emulator saw %d API requests, want 2", got)
	}
	if emu.Shoppers() != 0 || emu.PaymentLinks() != 0 {
		t.Errorf("create changed emulator state: %d shoppers, %d links", emu.Shoppers(), emu.PaymentLinks())
	}
}

func TestCreateCustomerRejectsAShortReference(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", nil)
	_, err := p.CreateCustomer(context.Background(), createReq(customer("ab")))
	pe := providerError(t, err)
	if pe.Retryable || pe.Code != "invalid_shopper_reference" {
		t.Fatalf("got %+v, want permanent invalid_shopper_reference", pe)
	}
	if emu.Faults.Requests() != 0 {
		t.Error("an invalid reference reached Adyen")
	}
}

func TestCustomerStatusFollowsStoredPaymentMethods(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", nil)
	ctx := context.Background()
	ref, err := idOf(p.CreateCustomer(ctx, createReq(customer("cust_status"))))
	if err != nil {
		t.Fatal(err)
	}
	want := func(step string, has bool) {
		t.Helper()
		st, err := p.CustomerStatus(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if st.HasPaymentMethod != has {
			t.Fatalf("%s: HasPaymentMethod = %v, want %v", step, st.HasPaymentMethod, has)
		}
	}
	want("new shopper", false)
	if _, err := emu.AttachPaymentMethod(ref); err != nil {
		t.Fatal(err)
	}
	want("after attach", true)
	if err := emu.DetachPaymentMethods(ref); err != nil {
		t.Fatal(err)
	}
	want("after detach", false)
}

func TestServerErrorIsRetryable(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", nil)
	emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.ServerError, Status: http.StatusInternalServerError})
	_, err := p.CustomerStatus(context.Background(), "cust_500")
	pe := providerError(t, err)
	if !pe.Retryable || pe.HTTPStatus != http.StatusInternalServerError || pe.Code != "000" || pe.Message == "" {
		t.Fatalf("got %+v, want retryable 500 with Adyen's errorCode and message", pe)
	}
	// The fault was for one request only: the retry goes through.
	if _, err := p.CustomerStatus(context.Background(), "cust_500"); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

func TestRateLimitIsRetryableAfterRetryAfter(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", nil)
	emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.RateLimited, RetryAfter: 3 * time.Second})
	_, err := p.CreateCustomer(context.Background(), createReq(customer("cust_429")))
	pe := providerError(t, err)
	if !pe.Retryable || pe.HTTPStatus != http.StatusTooManyRequests {
		t.Fatalf("got %+v, want retryable 429", pe)
	}
	if pe.RetryAfter != 3*time.Second {
		t.Fatalf("RetryAfter = %s, want 3s", pe.RetryAfter)
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", nil)
	emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.Timeout})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.CustomerStatus(ctx, "cust_timeout")
	pe := providerError(t, err)
	if !pe.Retryable || pe.Code != "timeout" || pe.HTTPStatus != 0 {
		t.Fatalf("got %+v, want retryable timeout without a status", pe)
	}
	if !paysync.IsRetryable(err) {
		t.Error("paysync.IsRetryable disagrees")
	}
}

// A call cancelled in flight is retryable "canceled", as in every adapter
// (Adyen's used to say timeout).
func TestCancelledCallIsRetryable(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", nil)
	emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.Timeout})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := p.CustomerStatus(ctx, "cust_cancel")
	pe := providerError(t, err)
	if !pe.Retryable || pe.Code != "canceled" || pe.HTTPStatus != 0 {
		t.Fatalf("got %+v, want retryable canceled without a status", pe)
	}
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	p := newProvider(t, base, nil)
	_, err := p.CustomerStatus(context.Background(), "cust_net")
	pe := providerError(t, err)
	if !pe.Retryable || pe.Code != paysync.CodeNotSent || pe.Ambiguous() {
		t.Fatalf("got %+v, want a retryable, unambiguous not_sent", pe)
	}
}

func TestBadCredentialsArePermanent(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	emu.AddAPIKey("key_for_other_merchant", "OtherMerchantECOM")
	for _, tc := range []struct {
		name       string
		key        string
		wantStatus int
		wantCode   string
	}{
		{"unknown API key", "not_a_real_key", http.StatusUnauthorized, "000"},
		{"key without the merchant account", "key_for_other_merchant", http.StatusForbidden, "010"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, srv.URL+"/v71", map[string]string{"api_key": tc.key, "merchant_account": testMerchant})
			_, err := p.CreateCustomer(context.Background(), createReq(customer("cust_auth")))
			pe := providerError(t, err)
			if pe.Retryable || pe.HTTPStatus != tc.wantStatus || pe.Code != tc.wantCode {
				t.Fatalf("got %+v, want permanent %d %s", pe, tc.wantStatus, tc.wantCode)
			}
			if paysync.IsRetryable(err) {
				t.Error("paysync.IsRetryable says retry")
			}
		})
	}
}

func TestSetupLinkIsIdempotent(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", nil)
	ctx := context.Background()
	c := customer("cust_link")
	ref, err := idOf(p.CreateCustomer(ctx, createReq(c)))
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.SetupLink(ctx, c, ref, "https://merchant.example/return", "paysync-link-1-setup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, srv.URL+"/_sandbox/links/PL") {
		t.Fatalf("link url = %q, want the emulator's page", first)
	}
	again, err := p.SetupLink(ctx, c, ref, "https://merchant.example/return", "paysync-link-1-setup")
	if err != nil {
		t.Fatal(err)
	}
	if again != first || emu.PaymentLinks() != 1 {
		t.Fatalf("repeat gave %q (%d links), want %q and one link", again, emu.PaymentLinks(), first)
	}
	other, err := p.SetupLink(ctx, c, ref, "https://merchant.example/return", "paysync-link-1-setup-2")
	if err != nil {
		t.Fatal(err)
	}
	if other == first || emu.PaymentLinks() != 2 {
		t.Fatalf("a new key gave %q (%d links), want a second link", other, emu.PaymentLinks())
	}

	// The shopper completes the page: the card is stored and the status
	// paysync mirrors turns true.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(first, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://merchant.example/return" {
		t.Fatalf("completing the page answered %d to %q, want 303 to the return url", resp.StatusCode, resp.Header.Get("Location"))
	}
	st, err := p.CustomerStatus(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasPaymentMethod {
		t.Fatal("completing the setup link stored no payment method")
	}
	if id := first[strings.LastIndex(first, "/")+1:]; emu.PaymentLinkStatus(id) != "completed" {
		t.Errorf("link %s is %q, want completed", id, emu.PaymentLinkStatus(id))
	}
}

func TestSetupLinkValidationErrorIsPermanent(t *testing.T) {
	t.Parallel()
	_, srv := emulator(t)
	p := newProvider(t, srv.URL+"/v71", nil)
	c := customer("cust_badcur")
	c.Currency = "euro" // not an ISO 4217 code
	_, err := p.SetupLink(context.Background(), c, "cust_badcur", "", "paysync-bad-currency")
	pe := providerError(t, err)
	if pe.Retryable || pe.HTTPStatus != http.StatusUnprocessableEntity || pe.Code == "" {
		t.Fatalf("got %+v, want permanent 422 with an errorCode", pe)
	}
}

func TestSandboxConnectionReachesTheEmulator(t *testing.T) {
	t.Parallel()
	emu := adyenemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	p, err := adyen.New(paysync.Connection{Provider: paysync.Adyen, Code: "sandbox", Sandbox: true, BaseURL: srv.URL,
		Credentials: sandbox.Credentials(paysync.Adyen)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := idOf(p.CreateCustomer(context.Background(), createReq(customer("cust_sandbox"))))
	if err != nil {
		t.Fatalf("the emulator refused the sandbox credentials: %v", err)
	}
	if _, err := emu.AttachPaymentMethod(ref); err != nil {
		t.Fatal(err)
	}
	if st, err := p.CustomerStatus(context.Background(), ref); err != nil || !st.HasPaymentMethod {
		t.Fatalf("status over the unversioned path = %+v, %v", st, err)
	}
}

func TestNewRequiresCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		creds map[string]string
		want  string
	}{
		{map[string]string{"merchant_account": "M"}, "credentials.api_key is required"},
		{map[string]string{"api_key": "k"}, "credentials.merchant_account is required"},
		{map[string]string{"api_key": "k", "merchant_account": "M", "live_prefix": "a/b"}, "credentials.live_prefix"},
	} {
		_, err := adyen.New(paysync.Connection{Provider: paysync.Adyen, Code: "c", Credentials: tc.creds}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("credentials %v: error %v, want it to mention %q", tc.creds, err, tc.want)
		}
		if paysync.ErrorCode(err) != paysync.EMISSINGCONFIG {
			t.Errorf("credentials %v: code %q, want %q", tc.creds, paysync.ErrorCode(err), paysync.EMISSINGCONFIG)
		}
	}
}

// recorder is a transport that records requests and never reaches a network.
type recorder struct{ reqs []*http.Request }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.reqs = append(r.reqs, req)
	return nil, errors.New("recorder: no network in this test")
}

func TestEndpointsAndClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		creds map[string]string
		base  string
		want  string
	}{
		{"test", map[string]string{}, "", "https://checkout-test.adyen.com/v71/storedPaymentMethods"},
		{"live", map[string]string{"live_prefix": "1797a841fbb37ca7-AdyenDemo"}, "",
			"https://1797a841fbb37ca7-AdyenDemo-checkout-live.adyenpayments.com/checkout/v71/storedPaymentMethods"},
		{"base url", map[string]string{"live_prefix": "ignored"}, "http://127.0.0.1:9/mock/v71/", "http://127.0.0.1:9/mock/v71/storedPaymentMethods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.creds["api_key"], tc.creds["merchant_account"] = "secret_key", "M_ECOM"
			rec := &recorder{}
			p, err := adyen.New(paysync.Connection{Provider: paysync.Adyen, Credentials: tc.creds, BaseURL: tc.base}, &http.Client{Transport: rec})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.CustomerStatus(context.Background(), "shopper_1")
			if pe := providerError(t, err); !pe.Retryable {
				t.Errorf("transport failure classified permanent: %+v", pe)
			}
			if len(rec.reqs) != 1 {
				t.Fatalf("the given client saw %d requests, want 1", len(rec.reqs))
			}
			req := rec.reqs[0]
			u := *req.URL
			u.RawQuery = ""
			if u.String() != tc.want {
				t.Errorf("url = %s, want %s", u.String(), tc.want)
			}
			if q := req.URL.Query(); q.Get("merchantAccount") != "M_ECOM" || q.Get("shopperReference") != "shopper_1" {
				t.Errorf("query = %s", req.URL.RawQuery)
			}
			if req.Header.Get("X-API-Key") != "secret_key" || req.Method != http.MethodGet {
				t.Errorf("%s with X-API-Key %q", req.Method, req.Header.Get("X-API-Key"))
			}
		})
	}
}
