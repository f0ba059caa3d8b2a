package stripeemu

import (
	"maps"
	"slices"
	"strings"
)

// Customer is the emulator's record of a Stripe customer, as tests read it.
type Customer struct {
	ID               string
	Created          int64 // Unix seconds, as Stripe sends it
	Name             string
	Email            string
	Phone            string
	Description      string
	Address          *Address
	Shipping         *Shipping
	Metadata         map[string]string
	PreferredLocales []string
	// DefaultPaymentMethod is invoice_settings.default_payment_method.
	DefaultPaymentMethod string
	DefaultSource        string
	Deleted              bool
}

// Address is a Stripe address.
type Address struct {
	Line1, Line2, City, State, PostalCode, Country string
}

// Shipping is a customer's shipping details.
type Shipping struct {
	Name, Phone string
	Address     Address
}

func (c *Customer) clone() Customer {
	out := *c
	if c.Address != nil {
		a := *c.Address
		out.Address = &a
	}
	if c.Shipping != nil {
		s := *c.Shipping
		out.Shipping = &s
	}
	out.Metadata = maps.Clone(c.Metadata)
	out.PreferredLocales = slices.Clone(c.PreferredLocales)
	return out
}

// wire renders the customer as Stripe's API does: unset fields are null,
// never missing.
func (c *Customer) wire() map[string]any {
	if c.Deleted {
		return map[string]any{"id": c.ID, "object": "customer", "deleted": true}
	}
	var shipping any
	if c.Shipping != nil {
		shipping = map[string]any{
			"address": c.Shipping.Address.wire(),
			"name":    null(c.Shipping.Name),
			"phone":   null(c.Shipping.Phone),
		}
	}
	var address any
	if c.Address != nil {
		address = c.Address.wire()
	}
	metadata := c.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	locales := c.PreferredLocales
	if locales == nil {
		locales = []string{}
	}
	return map[string]any{
		"id":             c.ID,
		"object":         "customer",
		"address":        address,
		"balance":        0,
		"created":        c.Created,
		"currency":       nil,
		"default_source": null(c.DefaultSource),
		"delinquent":     false,
		"description":    null(c.Description),
		"discount":       nil,
		"email":          null(c.Email),
		// Stripe derives the prefix from the account; a stable upper-case
		// string of the same shape will do here.
		"invoice_prefix": invoicePrefix(c.ID),
		"invoice_settings": map[string]any{
			"custom_fields":          nil,
			"default_payment_method": null(c.DefaultPaymentMethod),
			"footer":                 nil,
			"rendering_options":      nil,
		},
		"livemode":              false,
		"metadata":              metadata,
		"name":                  null(c.Name),
		"next_invoice_sequence": 1,
		"phone":                 null(c.Phone),
		"preferred_locales":     locales,
		"shipping":              shipping,
		"tax_exempt":            "none",
		"test_clock":            nil,
	}
}

func (a Address) wire() map[string]any {
	return map[string]any{
		"city":        null(a.City),
		"country":     null(a.Country),
		"line1":       null(a.Line1),
		"line2":       null(a.Line2),
		"postal_code": null(a.PostalCode),
		"state":       null(a.State),
	}
}

// paymentMethod is a test card attached to a customer.
type paymentMethod struct {
	id       string
	customer string
	created  int64
	expYear  int
}

func (p *paymentMethod) wire() map[string]any {
	var customer any
	if p.customer != "" {
		customer = p.customer
	}
	return map[string]any{
		"id":              p.id,
		"object":          "payment_method",
		"allow_redisplay": "unspecified",
		"billing_details": map[string]any{
			"address": Address{}.wire(),
			"email":   nil,
			"name":    nil,
			"phone":   nil,
		},
		"card": map[string]any{
			"brand": "visa",
			"checks": map[string]any{
				"address_line1_check":       nil,
				"address_postal_code_check": nil,
				"cvc_check":                 "pass",
			},
			"country":              "US",
			"display_brand":        "visa",
			"exp_month":            12,
			"exp_year":             p.expYear,
			"fingerprint":          "paysyncEmuVisa42",
			"funding":              "credit",
			"generated_from":       nil,
			"last4":                "4242",
			"networks":             map[string]any{"available": []string{"visa"}, "preferred": nil},
			"three_d_secure_usage": map[string]any{"supported": true},
			"wallet":               nil,
		},
		"created":  p.created,
		"customer": customer,
		"livemode": false,
		"metadata": map[string]string{},
		"type":     "card",
	}
}

// session is a Checkout Session in setup mode.
type session struct {
	id                 string
	created            int64
	customer           string
	paymentMethodTypes []string
	successURL         string
	cancelURL          string
	clientReference    string
	metadata           map[string]string
	setupIntent        string
	status             string // open | complete
	url                string
}

func (s *session) wire() map[string]any {
	var url any
	if s.status == "open" {
		url = s.url
	}
	metadata := s.metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	return map[string]any{
		"id":                   s.id,
		"object":               "checkout.session",
		"cancel_url":           null(s.cancelURL),
		"client_reference_id":  null(s.clientReference),
		"created":              s.created,
		"currency":             nil,
		"customer":             null(s.customer),
		"expires_at":           s.created + 24*3600,
		"livemode":             false,
		"metadata":             metadata,
		"mode":                 "setup",
		"payment_intent":       nil,
		"payment_method_types": s.paymentMethodTypes,
		"payment_status":       "no_payment_required",
		"setup_intent":         s.setupIntent,
		"status":               s.status,
		"success_url":          null(s.successURL),
		"ui_mode":              "hosted",
		"url":                  url,
	}
}

// null renders an unset string as JSON null, as Stripe does.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func invoicePrefix(id string) string {
	id = strings.TrimPrefix(id, "cus_")
	return strings.ToUpper(id[:min(8, len(id))])
}
