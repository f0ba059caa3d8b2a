package braintreeemu_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync/sandbox/braintreeemu"
)

func serve(t *testing.T) (*braintreeemu.Emulator, *httptest.Server) {
	t.Helper()
	emu := braintreeemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv
}

// call sends a gateway request as braintree-go does and returns the
// status, headers and the inflated body.
func call(t *testing.T, srv *httptest.Server, method, path, body string, edit func(*http.Request)) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(braintreeemu.PublicKey, braintreeemu.PrivateKey)
	req.Header.Set("X-ApiVersion", "3")
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Accept-Encoding", "gzip")
	if edit != nil {
		edit(req)
	}
	resp, err := srv.Client().Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if r, err = gzip.NewReader(r); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

const customersPath = "/merchants/" + braintreeemu.MerchantID + "/customers"

func TestDuplicateIDAnswersBraintreeError(t *testing.T) {
	t.Parallel()
	emu, srv := serve(t)
	create := `<customer><id>dup_1</id><email>dup@example.com</email></customer>`
	if status, _, body := call(t, srv, "POST", customersPath, create, nil); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	status, h, body := call(t, srv, "POST", customersPath, create, nil)
	want := `<?xml version="1.0" encoding="UTF-8"?>
<api-error-response>
  <errors>
    <errors type="array"/>
    <customer>
      <errors type="array">
        <error>
          <code>91609</code>
          <attribute type="symbol">id</attribute>
          <message>Customer ID has already been taken.</message>
        </error>
      </errors>
    </customer>
  </errors>
  <params>
    <customer>
      <id>dup_1</id>
      <email>dup@example.com</email>
    </customer>
    <merchant-id>` + braintreeemu.MerchantID + `</merchant-id>
  </params>
  <message>Customer ID has already been taken.</message>
</api-error-response>
`
	if status != http.StatusUnprocessableEntity || body != want {
		t.Errorf("duplicate: %d\n%s\nwant 422\n%s", status, body, want)
	}
	if h.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(h.Get("Content-Type"), "application/xml") {
		t.Errorf("headers %v, want gzipped application/xml", h)
	}
	if n := emu.CustomerCount(); n != 1 {
		t.Errorf("CustomerCount = %d, want 1", n)
	}
}

func TestCustomerXML(t *testing.T) {
	t.Parallel()
	emu, srv := serve(t)
	if status, _, body := call(t, srv, "POST", customersPath, `<customer><id>x_1</id><first-name>Ada &amp; co</first-name></customer>`, nil); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	token, err := emu.AttachPaymentMethod("x_1")
	if err != nil {
		t.Fatal(err)
	}
	// Plain when the client does not ask for gzip.
	status, h, body := call(t, srv, "GET", customersPath+"/x_1", "", func(r *http.Request) { r.Header.Del("Accept-Encoding") })
	if status != http.StatusOK || h.Get("Content-Encoding") != "" {
		t.Fatalf("find: %d %v", status, h)
	}
	for _, want := range []string{
		"<customer>\n  <id>x_1</id>\n",
		"  <first-name>Ada &amp; co</first-name>\n",
		"  <last-name nil=\"true\"/>\n",
		"  <created-at type=\"datetime\">",
		"  <credit-cards type=\"array\">\n    <credit-card>\n",
		"      <default type=\"boolean\">true</default>\n",
		"      <token>" + token + "</token>\n",
		"  <paypal-accounts type=\"array\"/>\n",
		"  <us-bank-accounts type=\"array\"/>\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("customer XML lacks %q:\n%s", want, body)
		}
	}
}

func TestGatewayRefusals(t *testing.T) {
	t.Parallel()
	_, srv := serve(t)
	for _, tt := range []struct {
		name   string
		path   string
		edit   func(*http.Request)
		status int
	}{
		{"no auth", customersPath + "/x", func(r *http.Request) { r.Header.Del("Authorization") }, http.StatusUnauthorized},
		{"wrong key", customersPath + "/x", func(r *http.Request) { r.SetBasicAuth(braintreeemu.PublicKey, "nope") }, http.StatusUnauthorized},
		{"other merchant", "/merchants/other/customers/x", nil, http.StatusForbidden},
		{"no api version", customersPath + "/x", func(r *http.Request) { r.Header.Del("X-ApiVersion") }, http.StatusUpgradeRequired},
		{"unknown customer", customersPath + "/x", nil, http.StatusNotFound},
	} {
		status, _, body := call(t, srv, "GET", tt.path, "", tt.edit)
		if status != tt.status || body != "" {
			t.Errorf("%s: %d %q, want %d with no body", tt.name, status, body, tt.status)
		}
	}
}

// TestBraintreeGo drives the routes paysync's adapter does not use with
// braintree-go: update, payment method create, find and delete.
func TestBraintreeGo(t *testing.T) {
	t.Parallel()
	_, srv := serve(t)
	gw := bt.NewWithHttpClient(bt.NewEnvironment(srv.URL), braintreeemu.MerchantID, braintreeemu.PublicKey, braintreeemu.PrivateKey, srv.Client())
	ctx := context.Background()
	c, err := gw.Customer().Create(ctx, &bt.CustomerRequest{FirstName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Id) != 8 {
		t.Errorf("generated id %q, want Braintree's 8 digits", c.Id)
	}
	c, err = gw.Customer().Update(ctx, &bt.CustomerRequest{ID: c.Id, LastName: "Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	if c.FirstName != "Ada" || c.LastName != "Lovelace" || c.Email != "ada@example.com" {
		t.Errorf("after update: %+v", c)
	}
	card, err := gw.PaymentMethod().Create(ctx, &bt.PaymentMethodRequest{CustomerId: c.Id, PaymentMethodNonce: bt.FakeNonceTransactableMasterCard})
	if err != nil {
		t.Fatal(err)
	}
	paypal, err := gw.PaymentMethod().Create(ctx, &bt.PaymentMethodRequest{CustomerId: c.Id, PaymentMethodNonce: bt.FakeNoncePayPalFuturePayment,
		Options: &bt.PaymentMethodRequestOptions{MakeDefault: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := paypal.(*bt.PayPalAccount); !ok || !paypal.IsDefault() {
		t.Errorf("PayPal nonce vaulted %T default=%v, want the default *PayPalAccount", paypal, paypal.IsDefault())
	}
	found, err := gw.PaymentMethod().Find(ctx, card.GetToken())
	if err != nil {
		t.Fatal(err)
	}
	if cc, ok := found.(*bt.CreditCard); !ok || cc.CardType != "MasterCard" || cc.IsDefault() {
		t.Errorf("found %+v, want the MasterCard, no longer default", found)
	}
	if err := gw.PaymentMethod().Delete(ctx, paypal.GetToken()); err != nil {
		t.Fatal(err)
	}
	c, err = gw.Customer().Find(ctx, c.Id)
	if err != nil {
		t.Fatal(err)
	}
	if pms := c.PaymentMethods(); len(pms) != 1 || pms[0].GetToken() != card.GetToken() || !pms[0].IsDefault() {
		t.Errorf("after deleting the default: %+v, want the card promoted to default", pms)
	}
	_, err = gw.PaymentMethod().Create(ctx, &bt.PaymentMethodRequest{CustomerId: "nobody", PaymentMethodNonce: bt.FakeNonceTransactable})
	var be *bt.BraintreeError
	if !errors.As(err, &be) || be.StatusCode() != 422 {
		t.Fatalf("vault for unknown customer: %v, want a 422", err)
	}
	if errs := be.For("PaymentMethod").On("CustomerId"); len(errs) != 1 || errs[0].Code != "93105" {
		t.Errorf("vault for unknown customer: errors %+v, want 93105 on customer_id", be.All())
	}
}

func TestControlRoutes(t *testing.T) {
	t.Parallel()
	emu, srv := serve(t)
	if status, _, _ := call(t, srv, "POST", customersPath, `<customer><id>ctl</id></customer>`, nil); status != http.StatusCreated {
		t.Fatal("create failed")
	}
	resp, err := http.Post(srv.URL+"/_sandbox/customers/ctl/payment_methods", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || out.Token == "" {
		t.Fatalf("attach: %d %+v", resp.StatusCode, out)
	}
	if _, _, body := call(t, srv, "GET", customersPath+"/ctl", "", nil); !strings.Contains(body, "<token>"+out.Token+"</token>") {
		t.Errorf("attached card %s missing:\n%s", out.Token, body)
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/_sandbox/customers/ctl/payment_methods", nil)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	if _, _, body := call(t, srv, "GET", customersPath+"/ctl", "", nil); !strings.Contains(body, `<credit-cards type="array"/>`) {
		t.Errorf("revoked cards still listed:\n%s", body)
	}
	if resp, err = http.Post(srv.URL+"/_sandbox/customers/nobody/payment_methods", "", nil); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("attach to unknown customer: %v %v", resp, err)
	}
	if _, err := emu.AttachPaymentMethod("nobody"); err == nil {
		t.Error("AttachPaymentMethod for an unknown customer succeeded")
	}

	// The fault plan is served over HTTP and applies to the gateway only.
	req, _ = http.NewRequest("PUT", srv.URL+"/_faults", strings.NewReader(`{"fail_next":1,"fail":"server_error","status":503}`))
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set faults: %v %v", resp, err)
	}
	if status, _, _ := call(t, srv, "GET", customersPath+"/ctl", "", nil); status != http.StatusServiceUnavailable {
		t.Errorf("faulted request: %d, want 503", status)
	}
	if status, _, _ := call(t, srv, "GET", customersPath+"/ctl", "", nil); status != http.StatusOK {
		t.Errorf("after the fault: %d, want 200", status)
	}
}
