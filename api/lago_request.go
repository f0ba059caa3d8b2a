package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/paysync/paysync"
)

// lagoCustomer is the "customer" object of a Lago upsert, every key kept
// as absent, null or a value: Lago updates key by key.
type lagoCustomer struct {
	ExternalID                opt[string]
	Name                      opt[string]
	Firstname                 opt[string]
	Lastname                  opt[string]
	CustomerType              opt[string]
	AccountType               opt[string]
	LegalName                 opt[string]
	LegalNumber               opt[string]
	TaxIdentificationNumber   opt[string]
	Email                     opt[string]
	Phone                     opt[string]
	URL                       opt[string]
	LogoURL                   opt[string]
	Currency                  opt[string]
	Timezone                  opt[string]
	NetPaymentTerm            opt[int]
	FinalizeZeroAmountInvoice opt[string]
	TaxCodes                  opt[[]string]
	BillingEntityCode         opt[string]
	ExternalSalesforceID      opt[string]
	SkipInvoiceCustomSections opt[bool]

	Address  lagoAddress
	Shipping opt[lagoAddress]
	Metadata opt[[]lagoMetadata]
	Billing  opt[lagoBilling]
}

type lagoAddress struct {
	Line1, Line2, City, State, Zipcode, Country opt[string]
}

type lagoMetadata struct {
	ID               string
	Key              opt[string]
	Value            opt[string]
	DisplayInInvoice bool
}

type lagoBilling struct {
	InvoiceGracePeriod     opt[int]
	PaymentProvider        opt[string]
	PaymentProviderCode    opt[string]
	ProviderCustomerID     opt[string]
	Sync                   opt[bool]
	SyncWithProvider       opt[bool]
	DocumentLocale         opt[string]
	ProviderPaymentMethods opt[[]string]
	// Lago's subscription_invoice_issuing_date_anchor and _adjustment.
	IssuingDateAnchor     opt[string]
	IssuingDateAdjustment opt[string]
}

// Lago's limits on customer metadata (Metadata::CustomerMetadata).
const (
	lagoMetadataMax      = 5
	lagoMetadataKeyMax   = 20
	lagoMetadataValueMax = 100
	lagoNameMax          = 255
)

// Lago's SUBSCRIPTION_INVOICE_ISSUING_DATE_ANCHORS and _ADJUSTMENTS.
var (
	lagoIssuingDateAnchors     = []string{"current_period_end", "next_period_start"}
	lagoIssuingDateAdjustments = []string{"align_with_finalization_date", "keep_anchor"}
)

// lagoPaymentMethods are Stripe's payment method types Lago accepts.
var lagoPaymentMethods = map[string]bool{
	"card": true, "sepa_debit": true, "us_bank_account": true, "bacs_debit": true,
	"link": true, "boleto": true, "crypto": true, "customer_balance": true,
}

// errLagoMissingCustomer is Rails' ActionController::ParameterMissing, as
// Lago renders it.
var errLagoMissingCustomer = badRequest("param is missing or the value is empty: customer")

// lagoCustomerObject finds the "customer" object of an upsert body. A
// body without one (absent, null, empty, not an object) is a 400, as
// params.require(:customer) makes it.
func lagoCustomerObject(body []byte) (map[string]json.RawMessage, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, errLagoMissingCustomer
	}
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	obj, ok := asObject(top["customer"])
	if !ok || len(obj) == 0 {
		return nil, errLagoMissingCustomer
	}
	return obj, nil
}

// parseLagoCustomer reads every key paysync knows; unknown keys (lago_id,
// taxes, vat_rate, ...) are ignored as Rails' permit ignores them. Type
// errors land in v.
func parseLagoCustomer(obj map[string]json.RawMessage, v paysync.Validation) lagoCustomer {
	f := newFields(obj, v, nil)
	c := lagoCustomer{
		ExternalID:                f.str("external_id"),
		Name:                      f.str("name"),
		Firstname:                 f.str("firstname"),
		Lastname:                  f.str("lastname"),
		CustomerType:              f.str("customer_type"),
		AccountType:               f.str("account_type"),
		LegalName:                 f.str("legal_name"),
		LegalNumber:               f.str("legal_number"),
		TaxIdentificationNumber:   f.str("tax_identification_number"),
		Email:                     f.str("email"),
		Phone:                     f.str("phone"),
		URL:                       f.str("url"),
		LogoURL:                   f.str("logo_url"),
		Currency:                  f.str("currency"),
		Timezone:                  f.str("timezone"),
		NetPaymentTerm:            f.integer("net_payment_term"),
		FinalizeZeroAmountInvoice: f.str("finalize_zero_amount_invoice"),
		TaxCodes:                  f.strs("tax_codes"),
		BillingEntityCode:         f.str("billing_entity_code"),
		ExternalSalesforceID:      f.str("external_salesforce_id"),
		SkipInvoiceCustomSections: f.boolean("skip_invoice_custom_sections"),
		Address:                   readLagoAddress(f),
	}
	// Lago reports shipping problems under its column names
	// (shipping_country, shipping_city, ...).
	if sf, o := f.object("shipping_address", func(k string) string { return "shipping_" + k }); o.Set {
		c.Shipping = opt[lagoAddress]{Set: true, Null: o.Null}
		if sf != nil {
			c.Shipping.V = readLagoAddress(sf)
		}
	}
	// Lago reports billing_configuration problems flat, under the
	// customer's attribute names (payment_provider, document_locale, ...).
	if bf, o := f.object("billing_configuration", nil); o.Set {
		c.Billing = opt[lagoBilling]{Set: true, Null: o.Null}
		if bf != nil {
			c.Billing.V = lagoBilling{
				InvoiceGracePeriod:     bf.integer("invoice_grace_period"),
				PaymentProvider:        bf.str("payment_provider"),
				PaymentProviderCode:    bf.str("payment_provider_code"),
				ProviderCustomerID:     bf.str("provider_customer_id"),
				Sync:                   bf.boolean("sync"),
				SyncWithProvider:       bf.boolean("sync_with_provider"),
				DocumentLocale:         bf.str("document_locale"),
				ProviderPaymentMethods: bf.strs("provider_payment_methods"),
				IssuingDateAnchor:      bf.str("subscription_invoice_issuing_date_anchor"),
				IssuingDateAdjustment:  bf.str("subscription_invoice_issuing_date_adjustment"),
			}
		}
	}
	if items := f.array("metadata"); items.Set {
		c.Metadata = opt[[]lagoMetadata]{Set: true, Null: items.Null}
		for i, raw := range items.V {
			// Lago would report an entry's problem as "key" or "value";
			// paysync names the entry so the client can find it.
			name := func(k string) string { return fmt.Sprintf("metadata[%d].%s", i, k) }
			obj, ok := asObject(raw)
			if !ok {
				v.Add(fmt.Sprintf("metadata[%d]", i), reasonType)
				continue
			}
			mf := newFields(obj, v, name)
			m := lagoMetadata{ID: mf.str("id").V, Key: mf.str("key"), Value: mf.str("value")}
			m.DisplayInInvoice = mf.boolean("display_in_invoice").V
			c.Metadata.V = append(c.Metadata.V, m)
		}
	}
	return c
}

func readLagoAddress(f *fields) lagoAddress {
	return lagoAddress{
		Line1:   f.str("address_line1"),
		Line2:   f.str("address_line2"),
		City:    f.str("city"),
		State:   f.str("state"),
		Zipcode: f.str("zipcode"),
		Country: f.str("country"),
	}
}

// emailPattern is a practical RFC 5322 address: dot-atom local part, a
// dotted host name. Lago's own check is a looser unanchored regexp.
var emailPattern = regexp.MustCompile(`(?i)^[a-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// invisible characters Lago strips from emails (copy-paste debris).
var invisible = strings.NewReplacer("\u200b", "", "\u200c", "", "\u200d", "", "\u2060", "", "\ufeff", "")

// validEmails accepts one address or a comma-separated list, as Lago sends
// invoices to each address of the list.
func validEmails(s string) bool {
	for _, part := range strings.Split(s, ",") {
		if !emailPattern.MatchString(strings.TrimSpace(part)) {
			return false
		}
	}
	return true
}

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// normalize applies Lago's input clean-up before validation: country codes
// are upper-cased, invisible characters leave emails.
func (c *lagoCustomer) normalize() {
	c.Address.Country.V = strings.ToUpper(strings.TrimSpace(c.Address.Country.V))
	c.Shipping.V.Country.V = strings.ToUpper(strings.TrimSpace(c.Shipping.V.Country.V))
	c.Email.V = strings.TrimSpace(invisible.Replace(c.Email.V))
}

// validate adds every value problem to v, with Lago's reason codes
// (config/locales/en.yml of lago-api) where Lago has one.
func (c *lagoCustomer) validate(v paysync.Validation) {
	if strings.TrimSpace(c.ExternalID.V) == "" {
		v.Add("external_id", reasonMandatory)
	}
	if utf8.RuneCountInString(c.Name.V) > lagoNameMax {
		v.Add("name", reasonTooLong)
	}
	if c.Email.V != "" && !validEmails(c.Email.V) {
		v.Add("email", reasonEmail)
	}
	checkCountry(v, "country", c.Address.Country.V)
	checkCountry(v, "shipping_country", c.Shipping.V.Country.V)
	if c.Currency.V != "" && !paysync.ValidCurrency(c.Currency.V) {
		v.Add("currency", reasonInvalid)
	}
	if c.Timezone.V != "" && !(lagoTimezones[c.Timezone.V] && paysync.ValidTimezone(c.Timezone.V)) {
		v.Add("timezone", reasonTimezone)
	}
	checkEnum(v, "customer_type", c.CustomerType.V, reasonInvalid, "company", "individual")
	checkEnum(v, "account_type", c.AccountType.V, reasonInvalid, "customer", "partner")
	// Lago's own single failure for this field says invalid_value.
	checkEnum(v, "finalize_zero_amount_invoice", c.FinalizeZeroAmountInvoice.V, reasonInvalidEnum, "inherit", "skip", "finalize")
	if c.NetPaymentTerm.V < 0 {
		v.Add("net_payment_term", reasonOutOfRange)
	}
	for _, u := range []struct {
		field string
		value string
	}{{"url", c.URL.V}, {"logo_url", c.LogoURL.V}} {
		if u.value != "" && !validHTTPURL(u.value) {
			v.Add(u.field, reasonURL)
		}
	}
	c.validateMetadata(v)
	c.validateBilling(v)
}

func checkCountry(v paysync.Validation, field, code string) {
	if code != "" && !paysync.ValidCountry(code) {
		v.Add(field, reasonCountry)
	}
}

func checkEnum(v paysync.Validation, field, value, reason string, allowed ...string) {
	if value == "" {
		return
	}
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.Add(field, reason)
}

func (c *lagoCustomer) validateMetadata(v paysync.Validation) {
	if len(c.Metadata.V) > lagoMetadataMax {
		v.Add("metadata", "invalid_count") // Lago's code for more than five entries
	}
	seen := make(map[string]bool)
	for i, m := range c.Metadata.V {
		key := fmt.Sprintf("metadata[%d].key", i)
		value := fmt.Sprintf("metadata[%d].value", i)
		switch {
		case strings.TrimSpace(m.Key.V) == "":
			v.Add(key, reasonMandatory)
		case utf8.RuneCountInString(m.Key.V) > lagoMetadataKeyMax:
			v.Add(key, reasonTooLong)
		case seen[m.Key.V]:
			v.Add(key, reasonDuplicate)
		}
		seen[m.Key.V] = true
		switch {
		case strings.TrimSpace(m.Value.V) == "":
			v.Add(value, reasonMandatory)
		case utf8.RuneCountInString(m.Value.V) > lagoMetadataValueMax:
			v.Add(value, reasonTooLong)
		}
	}
}

func (c *lagoCustomer) validateBilling(v paysync.Validation) {
	b := c.Billing.V
	if b.InvoiceGracePeriod.V < 0 {
		v.Add("invoice_grace_period", reasonOutOfRange)
	}
	if p := b.PaymentProvider.V; p != "" {
		// Lago accepts stripe, adyen and gocardless; paysync adds braintree.
		if _, ok := paysync.ParseProviderKind(p); !ok {
			v.Add("payment_provider", reasonInvalid)
		}
	}
	if b.DocumentLocale.V != "" && !paysync.ValidLocale(b.DocumentLocale.V) {
		v.Add("document_locale", reasonLocale)
	}
	// The Customer model's enums (validate: {allow_nil: true}): Rails'
	// inclusion error, which Lago renders value_is_invalid.
	checkEnum(v, "subscription_invoice_issuing_date_anchor", b.IssuingDateAnchor.V, reasonInvalid, lagoIssuingDateAnchors...)
	checkEnum(v, "subscription_invoice_issuing_date_adjustment", b.IssuingDateAdjustment.V, reasonInvalid, lagoIssuingDateAdjustments...)
	methods := b.ProviderPaymentMethods.V
	has := make(map[string]bool)
	for _, m := range methods {
		if !lagoPaymentMethods[m] {
			v.Add("provider_payment_methods", reasonInvalid)
			return
		}
		has[m] = true
	}
	// Lago's StripeCustomer rules; it reports them as "is invalid" and a
	// sentence, paysync as these codes.
	if has["link"] && !has["card"] {
		v.Add("provider_payment_methods", "link_requires_card")
	}
	if has["customer_balance"] && len(has) > 1 {
		v.Add("provider_payment_methods", "customer_balance_must_be_exclusive")
	}
}

// apply copies the keys the request holds onto the customer: absent keys
// keep the stored value, null (and, for addresses, "") clears it.
func (c *lagoCustomer) apply(dst *paysync.Customer) {
	setStr(&dst.Name, c.Name)
	setStr(&dst.FirstName, c.Firstname)
	setStr(&dst.LastName, c.Lastname)
	setStr(&dst.CustomerType, c.CustomerType)
	setStr(&dst.AccountType, c.AccountType)
	setStr(&dst.LegalName, c.LegalName)
	setStr(&dst.LegalNumber, c.LegalNumber)
	setStr(&dst.TaxIdentificationNumber, c.TaxIdentificationNumber)
	setStr(&dst.Email, c.Email)
	setStr(&dst.Phone, c.Phone)
	setStr(&dst.URL, c.URL)
	setStr(&dst.LogoURL, c.LogoURL)
	setStr(&dst.Currency, c.Currency)
	setStr(&dst.Timezone, c.Timezone)
	setStr(&dst.FinalizeZeroAmountInvoice, c.FinalizeZeroAmountInvoice)
	setInt(&dst.NetPaymentTerm, c.NetPaymentTerm)
	if c.TaxCodes.Set {
		dst.TaxCodes = c.TaxCodes.V
	}
	// billing_entity_code names one of Lago's billing entities; paysync
	// has none to resolve it against, so it keeps the code as given.
	setStr(&dst.BillingEntityCode, c.BillingEntityCode)
	setStr(&dst.ExternalSalesforceID, c.ExternalSalesforceID)
	if c.SkipInvoiceCustomSections.Set {
		dst.SkipInvoiceCustomSections = c.SkipInvoiceCustomSections.V
	}
	applyAddress(&dst.BillingAddress, c.Address)
	if c.Shipping.Null {
		dst.ShippingAddress = paysync.Address{}
	} else if c.Shipping.Set {
		applyAddress(&dst.ShippingAddress, c.Shipping.V)
	}
	if c.Metadata.Set {
		dst.Metadata = mergeMetadata(dst.Metadata, c.Metadata.V)
	}
	if c.Billing.given() {
		b := c.Billing.V
		setInt(&dst.InvoiceGracePeriod, b.InvoiceGracePeriod)
		setStr(&dst.DocumentLocale, b.DocumentLocale)
		setStr(&dst.InvoiceIssuingDateAnchor, b.IssuingDateAnchor)
		setStr(&dst.InvoiceIssuingDateAdjustment, b.IssuingDateAdjustment)
		if b.ProviderPaymentMethods.Set {
			// [] is taken as null: the provider default (card) applies.
			dst.ProviderPaymentMethods = nil
			if len(b.ProviderPaymentMethods.V) > 0 {
				dst.ProviderPaymentMethods = b.ProviderPaymentMethods.V
			}
		}
	}
}

func setStr(dst *string, o opt[string]) {
	if o.Set {
		*dst = o.V
	}
}

func setInt(dst **int, o opt[int]) {
	if !o.Set {
		return
	}
	if o.Null {
		*dst = nil
		return
	}
	n := o.V
	*dst = &n
}

func applyAddress(dst *paysync.Address, a lagoAddress) {
	setStr(&dst.Line1, a.Line1)
	setStr(&dst.Line2, a.Line2)
	setStr(&dst.City, a.City)
	setStr(&dst.State, a.State)
	setStr(&dst.PostalCode, a.Zipcode)
	setStr(&dst.Country, a.Country)
}

// mergeMetadata replaces the customer's metadata with the request's list,
// as Lago does. An entry keeps its lago_id and created_at when it names an
// existing entry by id or, unlike Lago (whose repeat of the same list fails
// on the duplicate key), by key: repeating a request changes nothing.
func mergeMetadata(existing []paysync.Metadata, in []lagoMetadata) []paysync.Metadata {
	byID := make(map[string]paysync.Metadata)
	byKey := make(map[string]paysync.Metadata)
	for _, m := range existing {
		byID[m.ID] = m
		byKey[m.Key] = m
	}
	out := make([]paysync.Metadata, 0, len(in))
	used := make(map[string]bool)
	for _, m := range in {
		next := paysync.Metadata{Key: m.Key.V, Value: m.Value.V, DisplayInInvoice: m.DisplayInInvoice}
		old, ok := byID[m.ID]
		if !ok || m.ID == "" {
			old, ok = byKey[m.Key.V]
		}
		if ok && !used[old.ID] {
			used[old.ID] = true
			next.ID, next.CreatedAt = old.ID, old.CreatedAt
		}
		out = append(out, next)
	}
	return out
}

// billingRequest maps billing_configuration to the Service's provider
// request; nil when the request says nothing about billing.
// "billing_configuration": null changes nothing (Lago would fail on it):
// payment_provider: null is the explicit way to drop the link.
func (c *lagoCustomer) billingRequest() *paysync.BillingRequest {
	if !c.Billing.given() {
		return nil
	}
	b := c.Billing.V
	req := &paysync.BillingRequest{
		ConnectionCode:     b.PaymentProviderCode.V,
		ProviderCustomerID: b.ProviderCustomerID.V,
		Sync:               b.Sync.V,
	}
	if b.PaymentProvider.Set {
		// null (or "") removes the provider link, as Lago's update does.
		req.ProviderSet = true
		req.Provider = paysync.ProviderKind(b.PaymentProvider.V)
	}
	if b.SyncWithProvider.given() {
		v := b.SyncWithProvider.V
		req.SyncWithProvider = &v
	}
	return req
}
