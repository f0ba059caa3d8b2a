package braintreeemu

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/paysync/paysync/sandbox/fault"
)

// xmlWriter renders XML the way Braintree's gateway does: two-space
// indentation, typed scalars (type="boolean", type="datetime"), empty
// arrays as <name type="array"/> and missing values as <name nil="true"/>.
type xmlWriter struct {
	b     strings.Builder
	depth int
}

func (x *xmlWriter) indent() { x.b.WriteString(strings.Repeat("  ", x.depth)) }

func (x *xmlWriter) open(name, attrs string) {
	x.indent()
	x.b.WriteString("<" + name + attrs + ">\n")
	x.depth++
}

func (x *xmlWriter) close(name string) {
	x.depth--
	x.indent()
	x.b.WriteString("</" + name + ">\n")
}

func (x *xmlWriter) empty(name, attrs string) {
	x.indent()
	x.b.WriteString("<" + name + attrs + "/>\n")
}

// element writes <name attrs>v</name>, escaping v.
func (x *xmlWriter) element(name, attrs, v string) {
	x.indent()
	x.b.WriteString("<" + name + attrs + ">")
	_ = xml.EscapeText(&x.b, []byte(v))
	x.b.WriteString("</" + name + ">\n")
}

// text writes a string attribute; Braintree renders an unset one as nil.
func (x *xmlWriter) text(name, v string) {
	if v == "" {
		x.empty(name, ` nil="true"`)
		return
	}
	x.element(name, "", v)
}

func (x *xmlWriter) boolean(name string, v bool) {
	s := "false"
	if v {
		s = "true"
	}
	x.element(name, ` type="boolean"`, s)
}

func (x *xmlWriter) datetime(name string, t time.Time) {
	x.element(name, ` type="datetime"`, t.UTC().Format(time.RFC3339))
}

// array writes <name type="array"> with n items, or the empty form.
func (x *xmlWriter) array(name string, n int, item func(i int)) {
	if n == 0 {
		x.empty(name, ` type="array"`)
		return
	}
	x.open(name, ` type="array"`)
	for i := range n {
		item(i)
	}
	x.close(name)
}

func (x *xmlWriter) customer(c *customer) {
	x.open("customer", "")
	x.text("id", c.id)
	x.text("merchant-id", MerchantID)
	x.text("first-name", c.firstName)
	x.text("last-name", c.lastName)
	x.text("company", c.company)
	x.text("email", c.email)
	x.text("phone", c.phone)
	x.text("fax", c.fax)
	x.text("website", c.website)
	x.datetime("created-at", c.createdAt)
	x.datetime("updated-at", c.updatedAt)
	x.empty("custom-fields", "")
	x.text("global-id", base64.RawStdEncoding.EncodeToString([]byte("customer_"+c.id)))
	byKind := map[string][]*paymentMethod{}
	for _, pm := range c.methods {
		byKind[pm.kind] = append(byKind[pm.kind], pm)
	}
	for _, kind := range []string{"credit-card", "paypal-account"} {
		pms := byKind[kind]
		x.array(kind+"s", len(pms), func(i int) { x.paymentMethod(c.id, pms[i]) })
	}
	// Payment method types the emulator never vaults, present (empty) as
	// in Braintree's answers.
	for _, name := range []string{"addresses", "apple-pay-cards", "android-pay-cards", "venmo-accounts",
		"us-bank-accounts", "visa-checkout-cards", "samsung-pay-cards", "sepa-debit-accounts"} {
		x.empty(name, ` type="array"`)
	}
	x.close("customer")
}

func (x *xmlWriter) paymentMethod(customerID string, pm *paymentMethod) {
	x.open(pm.kind, "")
	switch pm.kind {
	case "credit-card":
		x.text("bin", pm.bin)
		x.text("card-type", pm.cardType)
		x.empty("cardholder-name", ` nil="true"`)
		x.text("commercial", "Unknown")
		x.text("country-of-issuance", "Unknown")
		x.datetime("created-at", pm.createdAt)
		x.text("customer-id", customerID)
		x.text("customer-location", "US")
		x.text("debit", "Unknown")
		x.boolean("default", pm.isDefault)
		x.text("durbin-regulated", "Unknown")
		x.text("expiration-month", pm.expMonth)
		x.text("expiration-year", pm.expYear)
		x.boolean("expired", false)
		x.text("healthcare", "Unknown")
		x.text("image-url", pm.imageURL)
		x.text("issuing-bank", "Unknown")
		x.text("last-4", pm.last4)
		x.text("payroll", "Unknown")
		x.text("prepaid", "Unknown")
		x.text("product-id", "Unknown")
		x.empty("subscriptions", ` type="array"`)
		x.text("token", pm.token)
		x.text("unique-number-identifier", pm.token+"-"+pm.last4)
		x.datetime("updated-at", pm.updatedAt)
		x.boolean("venmo-sdk", false)
		x.empty("verifications", ` type="array"`)
	case "paypal-account":
		x.text("billing-agreement-id", "B-"+strings.ToUpper(pm.token))
		x.datetime("created-at", pm.createdAt)
		x.text("customer-id", customerID)
		x.boolean("default", pm.isDefault)
		x.text("email", pm.payerEmail)
		x.text("image-url", pm.imageURL)
		x.empty("subscriptions", ` type="array"`)
		x.text("token", pm.token)
		x.datetime("updated-at", pm.updatedAt)
	}
	if !pm.revokedAt.IsZero() {
		x.datetime("revoked-at", pm.revokedAt)
	}
	x.close(pm.kind)
}

// writeXML answers an XML document, gzipped when the client accepts it:
// Braintree's gateway does, and both SDKs send Accept-Encoding: gzip and
// inflate by Content-Encoding.
func writeXML(w http.ResponseWriter, r *http.Request, status int, body func(*xmlWriter)) {
	var x xmlWriter
	x.b.WriteString(xml.Header)
	body(&x)
	h := w.Header()
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(x.b.String()))
		return
	}
	h.Set("Content-Encoding", "gzip")
	w.WriteHeader(status)
	zw := gzip.NewWriter(w)
	_, _ = zw.Write([]byte(x.b.String()))
	_ = zw.Close()
}

func acceptsGzip(r *http.Request) bool {
	for _, enc := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(enc, ";")
		if strings.TrimSpace(name) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// writeEmpty answers a status with no body: Braintree's 401, 403, 404 and
// 426 carry none, and both SDKs act on the status alone.
func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// writeValidation answers 422 with an api-error-response: errs nested
// under the resource, the echoed params and the joined messages.
func writeValidation(w http.ResponseWriter, r *http.Request, resource string, errs []validationError, params []param) {
	writeXML(w, r, http.StatusUnprocessableEntity, func(x *xmlWriter) {
		x.open("api-error-response", "")
		x.open("errors", "")
		x.empty("errors", ` type="array"`)
		x.open(resource, "")
		x.array("errors", len(errs), func(i int) {
			x.open("error", "")
			x.element("code", "", errs[i].code)
			x.element("attribute", ` type="symbol"`, errs[i].attribute)
			x.element("message", "", errs[i].message)
			x.close("error")
		})
		x.close(resource)
		x.close("errors")
		x.open("params", "")
		x.open(resource, "")
		for _, p := range params {
			x.element(strings.ReplaceAll(p.name, "_", "-"), "", p.value)
		}
		x.close(resource)
		x.element("merchant-id", "", MerchantID)
		x.close("params")
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.message
		}
		x.element("message", "", strings.Join(msgs, "\n"))
		x.close("api-error-response")
	})
}

// writeFault answers an injected fault. Braintree's 429 and 5xx answers
// are not api-error-responses: the SDKs map the bare status to their
// TooManyRequests, ServerError and ServiceUnavailable (down for
// maintenance) errors.
func writeFault(w http.ResponseWriter, status int, _ fault.Kind) {
	writeEmpty(w, status)
}
