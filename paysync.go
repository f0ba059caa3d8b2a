// Package paysync holds the domain of the payment-provider sync service:
// customers, their provider links, the Provider contract every adapter
// implements, and the Service that turns an accepted request into a stored
// customer plus a pending provider link (the outbox) and a sync job.
//
// Subpackages depend on this package; it depends on none of them.
package paysync

import "time"

// Organization is a tenant. Every customer, API key and connection belongs to one.
type Organization struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Address is a postal address as all three dialects carry it.
type Address struct {
	Line1      string
	Line2      string
	City       string
	State      string
	PostalCode string
	Country    string // ISO 3166-1 alpha-2, upper case
}

// IsZero reports whether no field of the address is set.
func (a Address) IsZero() bool { return a == Address{} }

// Metadata is one key/value pair attached to a customer.
type Metadata struct {
	ID               string
	Key              string
	Value            string
	DisplayInInvoice bool
	CreatedAt        time.Time
}

// Customer is a billing customer as paysync stores it. Fields that only one
// dialect knows are kept so that every dialect can read back what it wrote.
type Customer struct {
	ID             string
	OrganizationID string
	ExternalID     string
	SequentialID   int64

	Name                      string
	FirstName                 string
	LastName                  string
	CustomerType              string // company | individual | ""
	AccountType               string // customer | partner | ""
	LegalName                 string
	LegalNumber               string
	TaxIdentificationNumber   string
	Email                     string
	Phone                     string
	URL                       string
	LogoURL                   string
	Currency                  string // ISO 4217, upper case
	Timezone                  string // IANA name
	NetPaymentTerm            *int
	FinalizeZeroAmountInvoice string // inherit | skip | finalize | ""
	TaxCodes                  []string
	TaxRate                   *float64 // Lotus
	// Lago's optional customer settings: paysync stores and returns them
	// but neither bills nor invoices, so they change nothing else.
	BillingEntityCode         string
	ExternalSalesforceID      string
	SkipInvoiceCustomSections bool

	BillingAddress  Address
	ShippingAddress Address
	Metadata        []Metadata
	// Properties is a free-form JSON object (Lotus "properties"); nil when unset.
	Properties []byte

	InvoiceGracePeriod     *int
	DocumentLocale         string
	ProviderPaymentMethods []string
	// Lago's subscription invoice issuing date settings (anchor:
	// current_period_end | next_period_start; adjustment:
	// align_with_finalization_date | keep_anchor); "" inherits.
	InvoiceIssuingDateAnchor     string
	InvoiceIssuingDateAdjustment string

	// Link is the customer's provider link; nil when no provider is chosen.
	Link *ProviderLink

	CreatedAt time.Time
	UpdatedAt time.Time
}

// MetadataValue returns the value stored under key, and whether it exists.
func (c *Customer) MetadataValue(key string) (string, bool) {
	for _, m := range c.Metadata {
		if m.Key == key {
			return m.Value, true
		}
	}
	return "", false
}
