package api

import (
	"strings"
	"unicode/utf8"

	"github.com/paysync/paysync"
)

// lotusCustomerJSON is Lotus's Customer schema (CustomerSerializer), keys
// in its order. paysync keeps no invoices, subscriptions or tax providers:
// those are empty.
type lotusCustomerJSON struct {
	CustomerID        string            `json:"customer_id"`
	Email             *string           `json:"email"`
	CustomerName      *string           `json:"customer_name"`
	Invoices          []struct{}        `json:"invoices"`
	TotalAmountDue    float64           `json:"total_amount_due"`
	Subscriptions     []struct{}        `json:"subscriptions"`
	Integrations      lotusIntegrations `json:"integrations"`
	DefaultCurrency   lotusPricingUnit  `json:"default_currency"`
	PaymentProvider   *string           `json:"payment_provider"`
	PaymentProviderID *string           `json:"payment_provider_id"`
	HasPaymentMethod  bool              `json:"has_payment_method"`
	// Address is the deprecated alias of BillingAddress.
	Address         *lotusAddressJSON `json:"address"`
	BillingAddress  *lotusAddressJSON `json:"billing_address"`
	ShippingAddress *lotusAddressJSON `json:"shipping_address"`
	TaxRate         *float64          `json:"tax_rate"`
	Timezone        string            `json:"timezone"`
	TaxProviders    []string          `json:"tax_providers"`
}

// lotusIntegrations holds the provider customer Lotus knows of, per
// provider; paysync fills the one its link names once the provider id is
// known. Adyen and GoCardless links, which Lotus has no key for, show
// through payment_provider and payment_provider_id only.
type lotusIntegrations struct {
	Stripe    *lotusStripeIntegration    `json:"stripe"`
	Braintree *lotusBraintreeIntegration `json:"braintree"`
}

type lotusStripeIntegration struct {
	StripeID         string `json:"stripe_id"`
	HasPaymentMethod bool   `json:"has_payment_method"`
}

type lotusBraintreeIntegration struct {
	BraintreeID      string `json:"braintree_id"`
	HasPaymentMethod bool   `json:"has_payment_method"`
}

type lotusPricingUnit struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Symbol string `json:"symbol"`
}

// lotusAddressJSON is Lotus's Address: line2 and state are nullable.
type lotusAddressJSON struct {
	City       string  `json:"city"`
	Country    string  `json:"country"`
	Line1      string  `json:"line1"`
	Line2      *string `json:"line2"`
	PostalCode string  `json:"postal_code"`
	State      *string `json:"state"`
}

// lotusDefaultCurrency is what a Lotus customer without a currency of its
// own is invoiced in: its organization's default, USD unless changed
// (Customer.save and Organization.save). The spec makes default_currency
// a required object, so paysync shows USD too, without storing it.
const lotusDefaultCurrency = "USD"

// lotusDefaultTimezone is Lotus's Customer.timezone default. A zone set
// through another dialect is shown as stored even when it is outside the
// spec's enum (pytz's common zones): Lotus itself stores any pytz zone and
// shows it the same way.
const lotusDefaultTimezone = "UTC"

// lotusCustomerView renders a stored customer, whichever dialect wrote it.
func lotusCustomerView(c *paysync.Customer) lotusCustomerJSON {
	billing := lotusAddressView(c.BillingAddress)
	out := lotusCustomerJSON{
		CustomerID:      c.ExternalID,
		Email:           lotusEmailView(c.Email),
		CustomerName:    nullable(c.Name),
		Invoices:        []struct{}{},
		Subscriptions:   []struct{}{},
		DefaultCurrency: lotusCurrencyView(c.Currency),
		Address:         billing,
		BillingAddress:  billing,
		ShippingAddress: lotusAddressView(c.ShippingAddress),
		TaxRate:         c.TaxRate,
		Timezone:        orDefault(c.Timezone, lotusDefaultTimezone),
		TaxProviders:    []string{},
	}
	l := c.Link
	if l == nil {
		return out
	}
	provider := string(l.Provider)
	out.PaymentProvider = &provider
	out.HasPaymentMethod = l.HasPaymentMethod
	if l.ProviderCustomerID == "" {
		return out // pending creation at the provider
	}
	id := l.ProviderCustomerID
	out.PaymentProviderID = &id
	switch l.Provider {
	case paysync.Stripe:
		out.Integrations.Stripe = &lotusStripeIntegration{StripeID: l.ProviderCustomerID, HasPaymentMethod: l.HasPaymentMethod}
	case paysync.Braintree:
		out.Integrations.Braintree = &lotusBraintreeIntegration{BraintreeID: l.ProviderCustomerID, HasPaymentMethod: l.HasPaymentMethod}
	}
	return out
}

func lotusCurrencyView(code string) lotusPricingUnit {
	if code == "" {
		code = lotusDefaultCurrency
	}
	name, symbol, ok := paysync.CurrencyInfo(code)
	if !ok {
		// A code ISO has since withdrawn: still the customer's currency.
		name, symbol = code, code
	}
	return lotusPricingUnit{Code: code, Name: name, Symbol: symbol}
}

// lotusAddressView shows an address only when Lotus could hold it: city,
// country, line1 and postal_code set, within Lotus's lengths. Another
// dialect may store a partial or longer one (Lago takes a city alone);
// Lotus's schema cannot express it, so its view shows none rather than an
// object its clients would reject. The other dialects still show it.
func lotusAddressView(a paysync.Address) *lotusAddressJSON {
	complete := a.City != "" && a.Line1 != "" && a.PostalCode != "" && paysync.ValidCountry(a.Country)
	fits := utf8.RuneCountInString(a.City) <= lotusCityMax && utf8.RuneCountInString(a.Line1) <= lotusLine1Max &&
		utf8.RuneCountInString(a.PostalCode) <= lotusPostalCodeMax && utf8.RuneCountInString(a.State) <= lotusStateMax
	if !complete || !fits {
		return nil
	}
	return &lotusAddressJSON{
		City:       a.City,
		Country:    a.Country,
		Line1:      a.Line1,
		Line2:      nullable(a.Line2),
		PostalCode: a.PostalCode,
		State:      nullable(a.State),
	}
}

// lotusEmailView is the customer's primary email: the first of a list,
// which Lago accepts and Lotus's single EmailField cannot show.
func lotusEmailView(email string) *string {
	first, _, _ := strings.Cut(email, ",")
	return nullable(strings.TrimSpace(first))
}
