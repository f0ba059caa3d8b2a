package adyenemu_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/paysync/paysync/sandbox/adyenemu"
)

type client struct {
	t   *testing.T
	url string
	key string
}

func start(t *testing.T) (*adyenemu.Emulator, *client) {
	t.Helper()
	emu := adyenemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, &client{t: t, url: srv.URL, key: adyenemu.SandboxAPIKey}
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (c *client) do(method, path, body string, header ...string) response {
	c.t.Helper()
	r, err := c.try(method, path, body, header...)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// try is do for goroutines, which must not call t.Fatal.
func (c *client) try(method, path, body string, header ...string) (response, error) {
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if c.key != "" {
		req.Header.Set("X-API-Key", c.key)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: %v in %q", method, path, err, raw)
		}
	}
	return r, nil
}

// wantError checks an Adyen ServiceError.
func wantError(t *testing.T, r response, status int, code, errorType string) {
	t.Helper()
	if r.status != status || r.body["status"] != float64(status) || r.body["errorCode"] != code || r.body["errorType"] != errorType {
		t.Errorf("got %d %s, want %d errorCode %s errorType %s", r.status, r.raw, status, code, errorType)
	}
	if msg, _ := r.body["message"].(string); msg == "" {
		t.Errorf("error without a message: %s", r.raw)
	}
}

const linkBody = `{"amount":{"value":0,"currency":"EUR"},"merchantAccount":"M_ECOM","reference":"ref-1",
	"shopperReference":"shopper_1","storePaymentMethodMode":"enabled","recurringProcessingModel":"UnscheduledCardOnFile"}`

func TestAuthentication(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	emu.AddAPIKey("narrow_key", "OnlyThisECOM")
	const list = "/v71/storedPaymentMethods?merchantAccount=M_ECOM&shopperReference=shopper_1"

	c.key = ""
	wantError(t, c.do(http.MethodGet, list, ""), http.StatusUnauthorized, "000", "security")
	c.key = "unknown"
	wantError(t, c.do(http.MethodPost, "/v71/paymentLinks", linkBody), http.StatusUnauthorized, "000", "security")
	c.key = "narrow_key"
	wantError(t, c.do(http.MethodGet, list, ""), http.StatusForbidden, "010", "security")
	if r := c.do(http.MethodGet, "/v71/storedPaymentMethods?merchantAccount=OnlyThisECOM&shopperReference=shopper_1", ""); r.status != http.StatusOK {
		t.Errorf("the key's own merchant account: %d %s", r.status, r.raw)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"list without merchant", "GET", "/v71/storedPaymentMethods?shopperReference=shopper_1", "", 422, "901"},
		{"list without shopper", "GET", "/v71/storedPaymentMethods?merchantAccount=M_ECOM", "", 422, "158"},
		{"delete without shopper", "DELETE", "/v71/storedPaymentMethods/123?merchantAccount=M_ECOM", "", 422, "158"},
		{"link without merchant", "POST", "/v71/paymentLinks", `{"amount":{"value":0,"currency":"EUR"},"reference":"r"}`, 422, "901"},
		{"link without amount", "POST", "/v71/paymentLinks", `{"merchantAccount":"M_ECOM","reference":"r"}`, 422, "100"},
		{"link without reference", "POST", "/v71/paymentLinks", `{"amount":{"value":0,"currency":"EUR"},"merchantAccount":"M_ECOM"}`, 422, "130"},
		{"link with a bad currency", "POST", "/v71/paymentLinks", `{"amount":{"value":0,"currency":"eur"},"merchantAccount":"M_ECOM","reference":"r"}`, 422, "138"},
		{"storing without shopper", "POST", "/v71/paymentLinks", `{"amount":{"value":0,"currency":"EUR"},"merchantAccount":"M_ECOM","reference":"r","storePaymentMethodMode":"enabled"}`, 422, "158"},
		{"bad recurring model", "POST", "/v71/paymentLinks", `{"amount":{"value":0,"currency":"EUR"},"merchantAccount":"M_ECOM","reference":"r","recurringProcessingModel":"Sometimes"}`, 422, "702"},
		{"not JSON", "POST", "/v71/paymentLinks", `{"amount":`, 400, "702"},
		{"unknown path", "GET", "/v71/customers", "", 404, "000"},
		{"wrong method", "PUT", "/v71/paymentLinks", linkBody, 405, "000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, c.do(tc.method, tc.path, tc.body), tc.status, tc.code, "validation")
		})
	}
}

func TestVersionedAndUnversionedPaths(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	if _, err := emu.AttachPaymentMethod("shopper_1"); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"/v71", "/v72", "", "/checkout/v71"} {
		r := c.do(http.MethodGet, prefix+"/storedPaymentMethods?merchantAccount=M_ECOM&shopperReference=shopper_1", "")
		methods, _ := r.body["storedPaymentMethods"].([]any)
		if r.status != http.StatusOK || r.body["shopperReference"] != "shopper_1" || r.body["merchantAccount"] != "M_ECOM" || len(methods) != 1 {
			t.Errorf("%q: %d %s", prefix, r.status, r.raw)
		}
	}
}

func TestStoredPaymentMethods(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	r := c.do(http.MethodPost, "/_sandbox/shoppers/shopper_1/payment_methods", `{"brand":"mc","lastFour":"4444"}`)
	if r.status != http.StatusCreated || r.body["brand"] != "mc" || r.body["lastFour"] != "4444" {
		t.Fatalf("attach: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	if _, err := emu.AttachPaymentMethod("shopper_1"); err != nil {
		t.Fatal(err)
	}
	list := c.do(http.MethodGet, "/v71/storedPaymentMethods?merchantAccount=M_ECOM&shopperReference=shopper_1", "")
	methods, _ := list.body["storedPaymentMethods"].([]any)
	if len(methods) != 2 {
		t.Fatalf("list: %s", list.raw)
	}
	first := methods[0].(map[string]any)
	for _, field := range []string{"id", "type", "brand", "lastFour", "expiryMonth", "expiryYear", "holderName", "shopperReference", "supportedRecurringProcessingModels"} {
		if _, ok := first[field]; !ok {
			t.Errorf("stored method lacks %s: %v", field, first)
		}
	}

	if r := c.do(http.MethodDelete, "/v71/storedPaymentMethods/"+id+"?merchantAccount=M_ECOM&shopperReference=shopper_1", ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	wantError(t, c.do(http.MethodDelete, "/v71/storedPaymentMethods/"+id+"?merchantAccount=M_ECOM&shopperReference=shopper_1", ""),
		http.StatusUnprocessableEntity, "800", "validation")
	if emu.PaymentMethods("shopper_1") != 1 {
		t.Errorf("%d methods left, want 1", emu.PaymentMethods("shopper_1"))
	}

	if r := c.do(http.MethodDelete, "/_sandbox/shoppers/shopper_1/payment_methods", ""); r.status != http.StatusNoContent || emu.PaymentMethods("shopper_1") != 0 {
		t.Errorf("sandbox detach: %d, %d methods left", r.status, emu.PaymentMethods("shopper_1"))
	}
	if r := c.do(http.MethodDelete, "/_sandbox/shoppers/nobody_1/payment_methods", ""); r.status != http.StatusNotFound {
		t.Errorf("detaching an unknown shopper: %d", r.status)
	}
	if _, err := emu.AttachPaymentMethod("ab"); err == nil {
		t.Error("a two-character shopper reference was accepted")
	}
	// Reading does not create shoppers; only shopper_1 exists.
	c.do(http.MethodGet, "/v71/storedPaymentMethods?merchantAccount=M_ECOM&shopperReference=reader_1", "")
	if emu.Shoppers() != 1 {
		t.Errorf("Shoppers() = %d, want 1", emu.Shoppers())
	}
}

func TestPaymentLinkIdempotency(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	first := c.do(http.MethodPost, "/v71/paymentLinks", linkBody, "Idempotency-Key", "key-1")
	if first.status != http.StatusCreated || first.header.Get("Idempotency-Key") != "key-1" {
		t.Fatalf("create: %d %s (Idempotency-Key %q)", first.status, first.raw, first.header.Get("Idempotency-Key"))
	}
	again := c.do(http.MethodPost, "/v71/paymentLinks", linkBody, "Idempotency-Key", "key-1")
	if again.status != first.status || string(again.raw) != string(first.raw) {
		t.Errorf("repeat answered %d %s, want the first answer %s", again.status, again.raw, first.raw)
	}
	other := c.do(http.MethodPost, "/v71/paymentLinks", linkBody, "Idempotency-Key", "key-2")
	none := c.do(http.MethodPost, "/v71/paymentLinks", linkBody)
	if other.body["id"] == first.body["id"] || none.body["id"] == first.body["id"] || emu.PaymentLinks() != 3 {
		t.Errorf("links %v %v %v, %d in all; want three distinct", first.body["id"], other.body["id"], none.body["id"], emu.PaymentLinks())
	}
	// Keys are scoped to the account: another API key does not see key-1.
	emu.AddAPIKey("second_key")
	c.key = "second_key"
	if r := c.do(http.MethodPost, "/v71/paymentLinks", linkBody, "Idempotency-Key", "key-1"); r.body["id"] == first.body["id"] {
		t.Error("another account replayed key-1")
	}
	wantError(t, c.do(http.MethodPost, "/v71/paymentLinks", linkBody, "Idempotency-Key", strings.Repeat("k", 65)),
		http.StatusUnprocessableEntity, "702", "validation")
}

func TestPaymentLinkLifecycle(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	created := c.do(http.MethodPost, "/v71/paymentLinks", linkBody)
	id, _ := created.body["id"].(string)
	for field, want := range map[string]any{
		"status": "active", "reference": "ref-1", "merchantAccount": "M_ECOM", "shopperReference": "shopper_1",
		"storePaymentMethodMode": "enabled", "url": c.url + "/_sandbox/links/" + id,
	} {
		if created.body[field] != want {
			t.Errorf("%s = %v, want %v", field, created.body[field], want)
		}
	}
	if _, ok := created.body["expiresAt"].(string); !ok {
		t.Errorf("no expiresAt: %s", created.raw)
	}

	page, err := http.Get(created.body["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.Contains(string(html), id) {
		t.Errorf("link page: %d %s", page.StatusCode, html)
	}
	if !strings.Contains(string(html), "Amount: EUR 0.00.") {
		t.Errorf("the link page does not show the amount as a person reads it: %s", html)
	}

	token, err := emu.CompletePaymentLink(id)
	if err != nil || token == "" || emu.PaymentMethods("shopper_1") != 1 {
		t.Fatalf("complete: token %q, %v, %d methods", token, err, emu.PaymentMethods("shopper_1"))
	}
	if got := c.do(http.MethodGet, "/v71/paymentLinks/"+id, ""); got.body["status"] != "completed" {
		t.Errorf("after completion: %s", got.raw)
	}
	if _, err := emu.CompletePaymentLink(id); err == nil {
		t.Error("a completed link completed again")
	}

	second := c.do(http.MethodPost, "/v71/paymentLinks", strings.Replace(linkBody, "ref-1", "ref-2", 1))
	id2 := second.body["id"].(string)
	if r := c.do(http.MethodPatch, "/v71/paymentLinks/"+id2, `{"status":"expired"}`); r.status != http.StatusOK || r.body["status"] != "expired" {
		t.Errorf("expire: %d %s", r.status, r.raw)
	}
	if emu.PaymentLinkStatus(id2) != "expired" {
		t.Errorf("status = %q", emu.PaymentLinkStatus(id2))
	}
	wantError(t, c.do(http.MethodGet, "/v71/paymentLinks/PLNOPE", ""), http.StatusNotFound, "000", "validation")
}

// The emulator can sit behind a prefix (the sandbox mounts it); link URLs
// keep that prefix.
func TestMountedLinkURL(t *testing.T) {
	t.Parallel()
	emu := adyenemu.New()
	mux := http.NewServeMux()
	mux.Handle("/sandbox/adyen/", http.StripPrefix("/sandbox/adyen", emu))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := &client{t: t, url: srv.URL + "/sandbox/adyen", key: adyenemu.SandboxAPIKey}
	r := c.do(http.MethodPost, "/v71/paymentLinks", linkBody)
	want := srv.URL + "/sandbox/adyen/_sandbox/links/" + fmt.Sprint(r.body["id"])
	if r.body["url"] != want {
		t.Fatalf("url = %v, want %s", r.body["url"], want)
	}
	if res, err := http.Get(want); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("link page through the mount: %v %v", res, err)
	} else {
		res.Body.Close()
	}
}

func TestFaultsOverHTTP(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	const list = "/v71/storedPaymentMethods?merchantAccount=M_ECOM&shopperReference=shopper_1"

	if r := c.do(http.MethodPut, "/_faults", `{"fail_next":1,"fail":"server_error","status":503}`); r.status != http.StatusOK {
		t.Fatalf("set faults: %d %s", r.status, r.raw)
	}
	// Control routes are never faulted.
	if r := c.do(http.MethodGet, "/_sandbox/state", ""); r.status != http.StatusOK {
		t.Errorf("state under a fault plan: %d", r.status)
	}
	wantError(t, c.do(http.MethodGet, list, ""), http.StatusServiceUnavailable, "000", "internal")
	if r := c.do(http.MethodGet, list, ""); r.status != http.StatusOK {
		t.Errorf("after the fault: %d %s", r.status, r.raw)
	}

	c.do(http.MethodPut, "/_faults", `{"fail_next":1,"fail":"rate_limited","retry_after":"2s"}`)
	r := c.do(http.MethodGet, list, "")
	wantError(t, r, http.StatusTooManyRequests, "000", "internal")
	if r.header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q, want 2", r.header.Get("Retry-After"))
	}
	if emu.Faults.Injected() != 2 {
		t.Errorf("Injected() = %d, want 2", emu.Faults.Injected())
	}
}

// Run with -race: concurrent clients of one emulator, and concurrent
// repeats of one idempotency key creating a single link.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	var wg sync.WaitGroup
	ids := make([]any, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref := fmt.Sprintf("shopper_%d", i%2)
			if _, err := emu.AttachPaymentMethod(ref); err != nil {
				t.Error(err)
			}
			if _, err := c.try(http.MethodGet, "/v71/storedPaymentMethods?merchantAccount=M_ECOM&shopperReference="+ref, ""); err != nil {
				t.Error(err)
			}
			r, err := c.try(http.MethodPost, "/v71/paymentLinks", linkBody, "Idempotency-Key", "same-key")
			if err != nil {
				t.Error(err)
			}
			ids[i] = r.body["id"]
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == nil {
			t.Fatalf("ids %v: want one link for one key", ids)
		}
	}
	if emu.PaymentLinks() != 1 || emu.PaymentMethods("shopper_0")+emu.PaymentMethods("shopper_1") != 8 {
		t.Errorf("%d links, %d+%d methods", emu.PaymentLinks(), emu.PaymentMethods("shopper_0"), emu.PaymentMethods("shopper_1"))
	}
}
