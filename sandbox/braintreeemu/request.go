package braintreeemu

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"mime"
	"net/http"
	"strings"
)

// field is a request value that remembers whether it was sent, so that an
// update changes only what the client named.
type field struct {
	v   string
	set bool
}

func (f *field) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	f.set = true
	return d.DecodeElement(&f.v, &start)
}

func (f *field) UnmarshalJSON(b []byte) error {
	f.set = true
	if string(b) == "null" {
		f.v = ""
		return nil
	}
	return json.Unmarshal(b, &f.v)
}

// customerParams is a customer create or update, in braintree-go's XML
// (kebab-case) or the Node SDK's JSON (snake_case).
type customerParams struct {
	ID        field `xml:"id" json:"id"`
	FirstName field `xml:"first-name" json:"first_name"`
	LastName  field `xml:"last-name" json:"last_name"`
	Company   field `xml:"company" json:"company"`
	Email     field `xml:"email" json:"email"`
	Phone     field `xml:"phone" json:"phone"`
	Fax       field `xml:"fax" json:"fax"`
	Website   field `xml:"website" json:"website"`
}

// namedField is a customer field with its wire name and the stored
// attribute it sets (nil for the id, which the caller handles).
type namedField struct {
	name string
	f    *field
	dst  func(*customer) *string
}

// named lists the fields in Braintree's order.
func (p *customerParams) named() []namedField {
	return []namedField{
		{"id", &p.ID, nil},
		{"first_name", &p.FirstName, func(c *customer) *string { return &c.firstName }},
		{"last_name", &p.LastName, func(c *customer) *string { return &c.lastName }},
		{"company", &p.Company, func(c *customer) *string { return &c.company }},
		{"email", &p.Email, func(c *customer) *string { return &c.email }},
		{"phone", &p.Phone, func(c *customer) *string { return &c.phone }},
		{"fax", &p.Fax, func(c *customer) *string { return &c.fax }},
		{"website", &p.Website, func(c *customer) *string { return &c.website }},
	}
}

// apply copies the fields that were sent onto c (the id is handled by the caller).
func (p *customerParams) apply(c *customer) {
	for _, n := range p.named() {
		if n.dst != nil && n.f.set {
			*n.dst(c) = n.f.v
		}
	}
}

// check runs Braintree's customer field validations.
func (p *customerParams) check() []validationError {
	var errs []validationError
	tooLong := map[string]validationError{
		"first_name": {"81608", "first_name", "First name is too long."},
		"last_name":  {"81613", "last_name", "Last name is too long."},
		"company":    {"81601", "company", "Company is too long."},
		"email":      {"81605", "email", "Email is too long."},
		"phone":      {"81614", "phone", "Phone is too long."},
		"fax":        {"81607", "fax", "Fax is too long."},
		"website":    {"81615", "website", "Website is too long."},
	}
	for _, n := range p.named() {
		if e, ok := tooLong[n.name]; ok && len(n.f.v) > 255 {
			errs = append(errs, e)
		}
	}
	if v := p.Email.v; v != "" && !validEmail(v) {
		errs = append(errs, validationError{"81604", "email", "Email is an invalid format."})
	}
	if v := p.Website.v; v != "" && (strings.ContainsAny(v, " \t\n") || !strings.Contains(v, ".")) {
		errs = append(errs, validationError{"81616", "website", "Website is an invalid format."})
	}
	return errs
}

func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && !strings.ContainsAny(s, " \t\n") &&
		!strings.Contains(domain, "@") && strings.Contains(strings.Trim(domain, "."), ".")
}

// params is what Braintree echoes back in an error response.
func (p *customerParams) params() []param {
	var out []param
	for _, n := range p.named() {
		if n.f.set {
			out = append(out, param{n.name, n.f.v})
		}
	}
	return out
}

// paymentMethodParams is a payment method create.
type paymentMethodParams struct {
	CustomerID string `xml:"customer-id" json:"customer_id"`
	Token      string `xml:"token" json:"token"`
	Nonce      string `xml:"payment-method-nonce" json:"payment_method_nonce"`
	Options    struct {
		MakeDefault bool `xml:"make-default" json:"make_default"`
	} `xml:"options" json:"options"`
}

func (p *paymentMethodParams) params() []param {
	var out []param
	if p.CustomerID != "" {
		out = append(out, param{"customer_id", p.CustomerID})
	}
	if p.Token != "" {
		out = append(out, param{"token", p.Token})
	}
	// The nonce is a credential of sorts: Braintree does not echo it either.
	return out
}

// param is one echoed request parameter.
type param struct{ name, value string }

// validationError is one entry of an api-error-response.
type validationError struct{ code, attribute, message string }

// decode reads the request body into v: XML with root element root as
// braintree-go sends it, or JSON {"<root in snake_case>": {...}} as the
// Node SDK does. On failure it answers 400 and reports false.
func decode(w http.ResponseWriter, r *http.Request, root string, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeEmpty(w, http.StatusBadRequest)
		return false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var env map[string]json.RawMessage
		if err := json.Unmarshal(body, &env); err != nil {
			writeEmpty(w, http.StatusBadRequest)
			return false
		}
		if raw, ok := env[strings.ReplaceAll(root, "-", "_")]; ok {
			if err := json.Unmarshal(raw, v); err != nil {
				writeEmpty(w, http.StatusBadRequest)
				return false
			}
		}
		return true
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	d := xml.NewDecoder(strings.NewReader(string(body)))
	for {
		tok, err := d.Token()
		if err != nil {
			writeEmpty(w, http.StatusBadRequest)
			return false
		}
		if start, ok := tok.(xml.StartElement); ok {
			if start.Name.Local != root || d.DecodeElement(v, &start) != nil {
				writeEmpty(w, http.StatusBadRequest)
				return false
			}
			return true
		}
	}
}
