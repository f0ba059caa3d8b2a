package adyen_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/providers/adyen"
)

// violations records Prism's sl-violations header of every response: Prism
// puts what a request breaks in the spec there, even for warnings it lets
// through.
type violations struct {
	mu    sync.Mutex
	found []string
	seen  int
}

func (v *violations) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen++
	if h := res.Header.Get("sl-violations"); h != "" {
		v.found = append(v.found, req.Method+" "+req.URL.Path+": "+h)
	}
	return res, nil
}

func (v *violations) check(t *testing.T, wantSeen int) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen != wantSeen {
		t.Errorf("Prism answered %d requests, want %d", v.seen, wantSeen)
	}
	for _, f := range v.found {
		t.Errorf("request breaks Adyen's spec: %s", f)
	}
}

// TestAgainstAdyenSpec runs the adapter against Prism serving Adyen's own
// Checkout v71 OpenAPI file: every request must satisfy it. One Prism
// serves all subtests, as it takes seconds to start.
func TestAgainstAdyenSpec(t *testing.T) {
	spec := filepath.Join(testenv.SharedDir(), "specs", "adyen-checkout-v71.json")
	base := testenv.Prism(t, spec)
	newSpecProvider := func(t *testing.T) (*adyen.Provider, *violations) {
		v := &violations{}
		p, err := adyen.New(paysync.Connection{
			Provider:    paysync.Adyen,
			Code:        "prism",
			Credentials: map[string]string{"api_key": "AQE_test_key", "merchant_account": "YOUR_MERCHANT_ACCOUNT"},
			BaseURL:     base,
		}, &http.Client{Transport: v})
		if err != nil {
			t.Fatal(err)
		}
		return p, v
	}
	ctx := context.Background()

	t.Run("CreateCustomer", func(t *testing.T) {
		t.Parallel()
		p, v := newSpecProvider(t)
		ref, err := idOf(p.CreateCustomer(ctx, createReq(customer("cust_prism_1"))))
		if err != nil {
			t.Fatal(err)
		}
		if ref != "cust_prism_1" {
			t.Errorf("reference = %q, want the external id", ref)
		}
		v.check(t, 1)
	})

	t.Run("CustomerStatus", func(t *testing.T) {
		t.Parallel()
		p, v := newSpecProvider(t)
		st, err := p.CustomerStatus(ctx, "cust_prism_2")
		if err != nil {
			t.Fatal(err)
		}
		// The spec's example lists one stored Visa card.
		if !st.HasPaymentMethod {
			t.Error("the spec example's stored card was not read as a payment method")
		}
		v.check(t, 1)
	})

	t.Run("SetupLink", func(t *testing.T) {
		t.Parallel()
		p, v := newSpecProvider(t)
		c := customer("cust_prism_3")
		url, err := p.SetupLink(ctx, c, "cust_prism_3", "https://merchant.example/return", "paysync-link-prism-1")
		if err != nil {
			t.Fatal(err)
		}
		// The spec's 201 example for POST /paymentLinks.
		if url != "https://test.adyen.link/PLE83C39B0A0DE0C1E" {
			t.Errorf("url = %q, want the spec example's", url)
		}
		v.check(t, 1)
	})

	// The same Prism rejects a request that breaks the spec, so the checks
	// above can fail.
	t.Run("SpecBreakingRequestIsRejected", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodPost, base+"/paymentLinks", strings.NewReader(`{"amount":{"value":0,"currency":"EUR"}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", "AQE_test_key")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status = %d, want 422", res.StatusCode)
		}
		got := res.Header.Get("sl-violations")
		for _, field := range []string{"merchantAccount", "reference"} {
			if !strings.Contains(got, "'"+field+"'") {
				t.Errorf("violations %q do not name the missing %s", got, field)
			}
		}
	})
}
