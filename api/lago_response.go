package api

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

// lagoCustomerJSON is Lago's CustomerObjectExtended, keys in the order
// Lago's serializer writes them. Unset text fields are null, as in Lago.
type lagoCustomerJSON struct {
	LagoID string `json:"lago_id"`
	// BillingEntityCode is left out when unset: Lago's schema types it
	// as a string, and paysync has no default billing entity to name.
	BillingEntityCode         *string            `json:"billing_entity_code,omitempty"`
	ExternalID                string             `json:"external_id"`
	AccountType               string             `json:"account_type"`
	Name                      *string            `json:"name"`
	Firstname                 *string            `json:"firstname"`
	Lastname                  *string            `json:"lastname"`
	CustomerType              *string            `json:"customer_type"`
	SequentialID              int64              `json:"sequential_id"`
	Slug                      string             `json:"slug"`
	CreatedAt                 string             `json:"created_at"`
	UpdatedAt                 string             `json:"updated_at"`
	Country                   *string            `json:"country"`
	AddressLine1              *string            `json:"address_line1"`
	AddressLine2              *string            `json:"address_line2"`
	State                     *string            `json:"state"`
	Zipcode                   *string            `json:"zipcode"`
	Email                     *string            `json:"email"`
	City                      *string            `json:"city"`
	URL                       *string            `json:"url"`
	Phone                     *string            `json:"phone"`
	LogoURL                   *string            `json:"logo_url"`
	LegalName                 *string            `json:"legal_name"`
	LegalNumber               *string            `json:"legal_number"`
	Currency                  *string            `json:"currency"`
	TaxIdentificationNumber   *string            `json:"tax_identification_number"`
	Timezone                  *string            `json:"timezone"`
	ApplicableTimezone        string             `json:"applicable_timezone"`
	NetPaymentTerm            *int               `json:"net_payment_term"`
	ExternalSalesforceID      *string            `json:"external_salesforce_id"`
	FinalizeZeroAmountInvoice string             `json:"finalize_zero_amount_invoice"`
	BillingConfiguration      lagoBillingJSON    `json:"billing_configuration"`
	ShippingAddress           lagoAddressJSON    `json:"shipping_address"`
	SkipInvoiceCustomSections bool               `json:"skip_invoice_custom_sections"`
	Metadata                  []lagoMetadataJSON `json:"metadata"`
	// TaxCodes is paysync's addition: it keeps tax codes but has no tax
	// objects to list under taxes.
	TaxCodes                        []string          `json:"tax_codes"`
	Taxes                           []struct{}        `json:"taxes"`
	IntegrationCustomers            []struct{}        `json:"integration_customers"`
	ApplicableInvoiceCustomSections []struct{}        `json:"applicable_invoice_custom_sections"`
	ErrorDetails                    []lagoErrorDetail `json:"error_details"`
}

// lagoBillingJSON is Lago's CustomerBillingConfiguration. Keys that
// Lago's schema types as non-null are left out when unset rather than
// written as null, so responses validate against the schema.
// has_payment_method and provider_sync_status are paysync's additions.
type lagoBillingJSON struct {
	InvoiceGracePeriod  *int   `json:"invoice_grace_period,omitempty"`
	PaymentProvider     string `json:"payment_provider,omitempty"`
	PaymentProviderCode string `json:"payment_provider_code,omitempty"`
	ProviderCustomerID  string `json:"provider_customer_id,omitempty"`
	SyncWithProvider    bool   `json:"sync_with_provider"`
	DocumentLocale      string `json:"document_locale,omitempty"`
	// The issuing date settings are null when unset (inherited), as
	// Lago's serializer writes them and its schema allows.
	IssuingDateAnchor      *string  `json:"subscription_invoice_issuing_date_anchor"`
	IssuingDateAdjustment  *string  `json:"subscription_invoice_issuing_date_adjustment"`
	ProviderPaymentMethods []string `json:"provider_payment_methods"`
	HasPaymentMethod       bool     `json:"has_payment_method"`
	// ProviderSyncStatus is none (no provider link), pending, synced or failed.
	ProviderSyncStatus string `json:"provider_sync_status"`
}

type lagoAddressJSON struct {
	AddressLine1 *string `json:"address_line1"`
	AddressLine2 *string `json:"address_line2"`
	City         *string `json:"city"`
	Zipcode      *string `json:"zipcode"`
	State        *string `json:"state"`
	Country      *string `json:"country"`
}

type lagoMetadataJSON struct {
	LagoID           string `json:"lago_id"`
	Key              string `json:"key"`
	Value            string `json:"value"`
	DisplayInInvoice bool   `json:"display_in_invoice"`
	CreatedAt        string `json:"created_at"`
}

// lagoErrorDetail is Lago's ErrorDetailObject; its details are strings.
type lagoErrorDetail struct {
	LagoID    string            `json:"lago_id"`
	ErrorCode string            `json:"error_code"`
	Details   map[string]string `json:"details"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func lagoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// lagoSlug is paysync's version of Lago's slug (the organization's
// document prefix, then the sequential id on three digits): "PAY-", the
// last four hex digits of the organization id upper-cased (Lago also takes
// the id's last four; paysync's ids are UUIDv7, whose leading digits are a
// timestamp shared by organizations created together), "-", and the
// sequential id: "PAY-3F2A-001".
func lagoSlug(orgID string, seq int64) string {
	var hex []byte
	for i := len(orgID) - 1; i >= 0 && len(hex) < 4; i-- {
		if c := orgID[i]; c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			hex = append([]byte{c}, hex...)
		}
	}
	return fmt.Sprintf("PAY-%s-%03d", strings.ToUpper(string(hex)), seq)
}

// stableUUID derives a name-based (version 5 style) UUID, so that one
// provider error keeps one lago_id across reads.
func stableUUID(name string) string {
	h := sha1.Sum([]byte("paysync:" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// LagoCustomer is the customer object client webhooks carry: the same JSON
// as Lago's customer endpoints answer.
func LagoCustomer(c *paysync.Customer) any { return lagoCustomerView(c) }

// lagoCustomerView renders a stored customer as Lago does.
func lagoCustomerView(c *paysync.Customer) lagoCustomerJSON {
	out := lagoCustomerJSON{
		LagoID:                    c.ID,
		BillingEntityCode:         nullable(c.BillingEntityCode),
		ExternalID:                c.ExternalID,
		AccountType:               orDefault(c.AccountType, "customer"),
		Name:                      nullable(c.Name),
		Firstname:                 nullable(c.FirstName),
		Lastname:                  nullable(c.LastName),
		CustomerType:              nullable(c.CustomerType),
		SequentialID:              c.SequentialID,
		Slug:                      lagoSlug(c.OrganizationID, c.SequentialID),
		CreatedAt:                 lagoTime(c.CreatedAt),
		UpdatedAt:                 lagoTime(c.UpdatedAt),
		Country:                   nullable(c.BillingAddress.Country),
		AddressLine1:              nullable(c.BillingAddress.Line1),
		AddressLine2:              nullable(c.BillingAddress.Line2),
		State:                     nullable(c.BillingAddress.State),
		Zipcode:                   nullable(c.BillingAddress.PostalCode),
		Email:                     nullable(c.Email),
		City:                      nullable(c.BillingAddress.City),
		URL:                       nullable(c.URL),
		Phone:                     nullable(c.Phone),
		LogoURL:                   nullable(c.LogoURL),
		LegalName:                 nullable(c.LegalName),
		LegalNumber:               nullable(c.LegalNumber),
		Currency:                  nullable(c.Currency),
		TaxIdentificationNumber:   nullable(c.TaxIdentificationNumber),
		Timezone:                  nullable(c.Timezone),
		ApplicableTimezone:        orDefault(c.Timezone, "UTC"),
		NetPaymentTerm:            c.NetPaymentTerm,
		ExternalSalesforceID:      nullable(c.ExternalSalesforceID),
		FinalizeZeroAmountInvoice: orDefault(c.FinalizeZeroAmountInvoice, "inherit"),
		SkipInvoiceCustomSections: c.SkipInvoiceCustomSections,
		BillingConfiguration:      lagoBillingView(c),
		ShippingAddress: lagoAddressJSON{
			AddressLine1: nullable(c.ShippingAddress.Line1),
			AddressLine2: nullable(c.ShippingAddress.Line2),
			City:         nullable(c.ShippingAddress.City),
			Zipcode:      nullable(c.ShippingAddress.PostalCode),
			State:        nullable(c.ShippingAddress.State),
			Country:      nullable(c.ShippingAddress.Country),
		},
		Metadata:                        make([]lagoMetadataJSON, 0, len(c.Metadata)),
		TaxCodes:                        append([]string{}, c.TaxCodes...),
		Taxes:                           []struct{}{},
		IntegrationCustomers:            []struct{}{},
		ApplicableInvoiceCustomSections: []struct{}{},
		ErrorDetails:                    []lagoErrorDetail{},
	}
	for _, m := range c.Metadata {
		out.Metadata = append(out.Metadata, lagoMetadataJSON{
			LagoID: m.ID, Key: m.Key, Value: m.Value, DisplayInInvoice: m.DisplayInInvoice, CreatedAt: lagoTime(m.CreatedAt),
		})
	}
	if l := c.Link; l != nil && l.LastError != nil {
		e := l.LastError
		details := map[string]string{"provider": string(e.Provider), "code": e.Code, "message": e.Message}
		if e.HTTPStatus != 0 {
			details["http_status"] = strconv.Itoa(e.HTTPStatus)
		}
		out.ErrorDetails = append(out.ErrorDetails, lagoErrorDetail{
			LagoID:    stableUUID(fmt.Sprintf("%s:%d", l.ID, l.Generation)),
			ErrorCode: "payment_provider_error", // Lago's webhook name for it; its ErrorDetail enum has none
			Details:   details,
		})
	}
	return out
}

func lagoBillingView(c *paysync.Customer) lagoBillingJSON {
	b := lagoBillingJSON{
		InvoiceGracePeriod:     c.InvoiceGracePeriod,
		DocumentLocale:         c.DocumentLocale,
		IssuingDateAnchor:      nullable(c.InvoiceIssuingDateAnchor),
		IssuingDateAdjustment:  nullable(c.InvoiceIssuingDateAdjustment),
		ProviderPaymentMethods: c.ProviderPaymentMethods,
		ProviderSyncStatus:     string(paysync.SyncNone),
	}
	l := c.Link
	if l == nil {
		return b
	}
	b.PaymentProvider = string(l.Provider)
	b.PaymentProviderCode = l.ConnectionCode
	b.ProviderCustomerID = l.ProviderCustomerID
	b.SyncWithProvider = l.SyncWithProvider
	b.HasPaymentMethod = l.HasPaymentMethod
	if l.State != "" {
		b.ProviderSyncStatus = string(l.State)
	}
	if l.Provider == paysync.Stripe && len(b.ProviderPaymentMethods) == 0 {
		b.ProviderPaymentMethods = []string{"card"} // Lago's default for Stripe
	}
	return b
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
