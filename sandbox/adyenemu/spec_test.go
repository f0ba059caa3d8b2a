package adyenemu_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/adyenemu"
)

// TestResponsesMatchAdyenSpec puts Prism in proxy mode between a client and
// the emulator: Prism checks the requests and the emulator's responses
// against Adyen's own Checkout v71 OpenAPI file and reports what breaks it
// in the sl-violations header.
func TestResponsesMatchAdyenSpec(t *testing.T) {
	t.Parallel()
	emu := adyenemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	if _, err := emu.AttachPaymentMethod("shopper_spec_1"); err != nil {
		t.Fatal(err)
	}

	spec := filepath.Join(testenv.SharedDir(), "specs", "adyen-checkout-v71.json")
	mods := testenv.NodeModules(t)
	port := testenv.FreePort(t)
	testenv.StartProcess(t, "", nil, filepath.Join(mods, ".bin", "prism"), "proxy", "--errors",
		"-h", "127.0.0.1", "-p", fmt.Sprint(port), spec, srv.URL+"/v71")
	proxy := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.WaitHTTP(t, proxy, 90*time.Second)

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, proxy+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-Key", adyenemu.SandboxAPIKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if v := res.Header.Get("sl-violations"); v != "" {
			t.Errorf("%s %s: the exchange breaks Adyen's spec: %s", method, path, v)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %q is not a JSON object", method, path, res.StatusCode, raw)
		}
		return res.StatusCode, out
	}

	status, list := do(http.MethodGet, "/storedPaymentMethods?merchantAccount=SpecECOM&shopperReference=shopper_spec_1", "")
	methods, _ := list["storedPaymentMethods"].([]any)
	if status != http.StatusOK || len(methods) != 1 {
		t.Errorf("stored payment methods: %d %v", status, list)
	}

	status, link := do(http.MethodPost, "/paymentLinks", `{"amount":{"value":0,"currency":"EUR"},"merchantAccount":"SpecECOM",
		"reference":"spec-setup-1","shopperReference":"shopper_spec_1","storePaymentMethodMode":"enabled",
		"recurringProcessingModel":"UnscheduledCardOnFile","returnUrl":"https://merchant.example/return"}`)
	if status != http.StatusCreated || link["status"] != "active" || link["url"] == nil {
		t.Fatalf("create payment link: %d %v", status, link)
	}
	if status, got := do(http.MethodGet, "/paymentLinks/"+fmt.Sprint(link["id"]), ""); status != http.StatusOK || got["id"] != link["id"] {
		t.Errorf("get payment link: %d %v", status, got)
	}
	// A request the spec allows but Adyen refuses: the 422 ServiceError
	// must still be the spec's shape.
	status, refused := do(http.MethodPost, "/paymentLinks", `{"amount":{"value":0,"currency":"EUR"},"merchantAccount":"SpecECOM",
		"reference":"spec-setup-2","storePaymentMethodMode":"enabled"}`)
	if status != http.StatusUnprocessableEntity || refused["errorCode"] != "158" || refused["errorType"] != "validation" {
		t.Errorf("enabled storage without a shopper: %d %v", status, refused)
	}
}
