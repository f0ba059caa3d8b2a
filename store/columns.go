package store

import (
	"time"

	"github.com/paysync/paysync"
)

type customer = paysync.Customer

// customerFields are the columns of customers that UpsertCustomer writes,
// in INSERT order; sequential_id is the database's to assign.
var customerFields = []field[customer]{
	plain("id", func(c *customer) *string { return &c.ID }),
	plain("organization_id", func(c *customer) *string { return &c.OrganizationID }),
	plain("external_id", func(c *customer) *string { return &c.ExternalID }),
	plain("name", func(c *customer) *string { return &c.Name }),
	plain("first_name", func(c *customer) *string { return &c.FirstName }),
	plain("last_name", func(c *customer) *string { return &c.LastName }),
	plain("customer_type", func(c *customer) *string { return &c.CustomerType }),
	plain("account_type", func(c *customer) *string { return &c.AccountType }),
	plain("legal_name", func(c *customer) *string { return &c.LegalName }),
	plain("legal_number", func(c *customer) *string { return &c.LegalNumber }),
	plain("tax_identification_number", func(c *customer) *string { return &c.TaxIdentificationNumber }),
	plain("email", func(c *customer) *string { return &c.Email }),
	plain("phone", func(c *customer) *string { return &c.Phone }),
	plain("url", func(c *customer) *string { return &c.URL }),
	plain("logo_url", func(c *customer) *string { return &c.LogoURL }),
	plain("currency", func(c *customer) *string { return &c.Currency }),
	plain("timezone", func(c *customer) *string { return &c.Timezone }),
	optInt("net_payment_term", func(c *customer) **int { return &c.NetPaymentTerm }),
	plain("finalize_zero_amount_invoice", func(c *customer) *string { return &c.FinalizeZeroAmountInvoice }),
	stringList("tax_codes", func(c *customer) *[]string { return &c.TaxCodes }),
	optFloat("tax_rate", func(c *customer) **float64 { return &c.TaxRate }),
	plain("billing_entity_code", func(c *customer) *string { return &c.BillingEntityCode }),
	plain("external_salesforce_id", func(c *customer) *string { return &c.ExternalSalesforceID }),
	plain("skip_invoice_custom_sections", func(c *customer) *bool { return &c.SkipInvoiceCustomSections }),
	plain("billing_line1", func(c *customer) *string { return &c.BillingAddress.Line1 }),
	plain("billing_line2", func(c *customer) *string { return &c.BillingAddress.Line2 }),
	plain("billing_city", func(c *customer) *string { return &c.BillingAddress.City }),
	plain("billing_state", func(c *customer) *string { return &c.BillingAddress.State }),
	plain("billing_postal_code", func(c *customer) *string { return &c.BillingAddress.PostalCode }),
	plain("billing_country", func(c *customer) *string { return &c.BillingAddress.Country }),
	plain("shipping_line1", func(c *customer) *string { return &c.ShippingAddress.Line1 }),
	plain("shipping_line2", func(c *customer) *string { return &c.ShippingAddress.Line2 }),
	plain("shipping_city", func(c *customer) *string { return &c.ShippingAddress.City }),
	plain("shipping_state", func(c *customer) *string { return &c.ShippingAddress.State }),
	plain("shipping_postal_code", func(c *customer) *string { return &c.ShippingAddress.PostalCode }),
	plain("shipping_country", func(c *customer) *string { return &c.ShippingAddress.Country }),
	jsonText("metadata", func(c *customer) *[]paysync.Metadata { return &c.Metadata },
		func(m []paysync.Metadata) bool { return len(m) == 0 }, toStoredMetadata, fromStoredMetadata),
	rawJSON("properties", func(c *customer) *[]byte { return &c.Properties }),
	optInt("invoice_grace_period", func(c *customer) **int { return &c.InvoiceGracePeriod }),
	plain("document_locale", func(c *customer) *string { return &c.DocumentLocale }),
	stringList("provider_payment_methods", func(c *customer) *[]string { return &c.ProviderPaymentMethods }),
	plain("invoice_issuing_date_anchor", func(c *customer) *string { return &c.InvoiceIssuingDateAnchor }),
	plain("invoice_issuing_date_adjustment", func(c *customer) *string { return &c.InvoiceIssuingDateAdjustment }),
	timestamp("created_at", func(c *customer) *time.Time { return &c.CreatedAt }),
	// updated_at stays last: unchanged() compares everything before it.
	timestamp("updated_at", func(c *customer) *time.Time { return &c.UpdatedAt }),
}

type link = paysync.ProviderLink

// linkFields are the columns of provider_links, in INSERT order.
var linkFields = []field[link]{
	plain("id", func(l *link) *string { return &l.ID }),
	plain("customer_id", func(l *link) *string { return &l.CustomerID }),
	plain("organization_id", func(l *link) *string { return &l.OrganizationID }),
	stringKind("provider", func(l *link) *paysync.ProviderKind { return &l.Provider }),
	plain("connection_code", func(l *link) *string { return &l.ConnectionCode }),
	plain("provider_customer_id", func(l *link) *string { return &l.ProviderCustomerID }),
	plain("link_only", func(l *link) *bool { return &l.LinkOnly }),
	plain("sync_with_provider", func(l *link) *bool { return &l.SyncWithProvider }),
	plain("has_payment_method", func(l *link) *bool { return &l.HasPaymentMethod }),
	plain("generation", func(l *link) *int { return &l.Generation }),
	stringKind("state", func(l *link) *paysync.SyncState { return &l.State }),
	jsonText("last_error", func(l *link) **paysync.ProviderError { return &l.LastError },
		func(e *paysync.ProviderError) bool { return e == nil }, toStoredError, fromStoredError),
	plain("attempts", func(l *link) *int { return &l.Attempts }),
	timestamp("pending_since", func(l *link) *time.Time { return &l.PendingSince }),
	optTime("synced_at", func(l *link) **time.Time { return &l.SyncedAt }),
	// updated_at stays last: unchanged() compares everything before it.
	timestamp("updated_at", func(l *link) *time.Time { return &l.UpdatedAt }),
}

type (
	inboxEvent      = paysync.InboxEvent
	webhookEndpoint = paysync.WebhookEndpoint
	delivery        = paysync.Delivery
	notification    = paysync.Notification
)

// inboxFields are the columns of inbox_events, in INSERT order.
var inboxFields = []field[inboxEvent]{
	plain("id", func(e *inboxEvent) *string { return &e.ID }),
	plain("organization_id", func(e *inboxEvent) *string { return &e.OrganizationID }),
	stringKind("provider", func(e *inboxEvent) *paysync.ProviderKind { return &e.Provider }),
	plain("connection_code", func(e *inboxEvent) *string { return &e.ConnectionCode }),
	plain("event_id", func(e *inboxEvent) *string { return &e.EventID }),
	plain("type", func(e *inboxEvent) *string { return &e.Type }),
	plain("provider_customer_id", func(e *inboxEvent) *string { return &e.ProviderCustomerID }),
	plain("resource_id", func(e *inboxEvent) *string { return &e.ResourceID }),
	timestamp("received_at", func(e *inboxEvent) *time.Time { return &e.ReceivedAt }),
	optTime("processed_at", func(e *inboxEvent) **time.Time { return &e.ProcessedAt }),
}

// endpointFields are the columns of webhook_endpoints, in INSERT order.
var endpointFields = []field[webhookEndpoint]{
	plain("id", func(e *webhookEndpoint) *string { return &e.ID }),
	plain("organization_id", func(e *webhookEndpoint) *string { return &e.OrganizationID }),
	plain("url", func(e *webhookEndpoint) *string { return &e.URL }),
	plain("signature_algo", func(e *webhookEndpoint) *string { return &e.SignatureAlgo }),
	plain("name", func(e *webhookEndpoint) *string { return &e.Name }),
	stringList("event_types", func(e *webhookEndpoint) *[]string { return &e.EventTypes }),
	timestamp("created_at", func(e *webhookEndpoint) *time.Time { return &e.CreatedAt }),
}

// deliveryFields are the columns of webhook_deliveries, in INSERT order.
var deliveryFields = []field[delivery]{
	plain("id", func(d *delivery) *string { return &d.ID }),
	plain("organization_id", func(d *delivery) *string { return &d.OrganizationID }),
	plain("endpoint_id", func(d *delivery) *string { return &d.EndpointID }),
	plain("url", func(d *delivery) *string { return &d.URL }),
	plain("webhook_type", func(d *delivery) *string { return &d.WebhookType }),
	blob("body", func(d *delivery) *[]byte { return &d.Body }),
	plain("attempts", func(d *delivery) *int { return &d.Attempts }),
	plain("last_status", func(d *delivery) *int { return &d.LastStatus }),
	plain("last_error", func(d *delivery) *string { return &d.LastError }),
	optTime("delivered_at", func(d *delivery) **time.Time { return &d.DeliveredAt }),
	timestamp("created_at", func(d *delivery) *time.Time { return &d.CreatedAt }),
}

// notificationFields are the columns of notifications, in INSERT order.
var notificationFields = []field[notification]{
	plain("id", func(n *notification) *string { return &n.ID }),
	plain("organization_id", func(n *notification) *string { return &n.OrganizationID }),
	plain("customer_id", func(n *notification) *string { return &n.CustomerID }),
	plain("webhook_type", func(n *notification) *string { return &n.WebhookType }),
	plain("checkout_url", func(n *notification) *string { return &n.CheckoutURL }),
	timestamp("created_at", func(n *notification) *time.Time { return &n.CreatedAt }),
	optTime("processed_at", func(n *notification) **time.Time { return &n.ProcessedAt }),
}

var (
	notificationColumns = names(notificationFields)
	customerColumns     = names(customerFields)
	linkColumns         = names(linkFields)
	inboxColumns        = names(inboxFields)
	endpointColumns     = names(endpointFields)
	deliveryColumns     = names(deliveryFields)
)

// unchanged reports whether two rows of values store the same data, leaving
// out updated_at, the last column.
func unchanged(before, after []any) bool {
	if before == nil || after == nil {
		return false
	}
	return sameValues(before[:len(before)-1], after[:len(after)-1])
}

func stringList[R any](name string, f func(*R) *[]string) field[R] {
	id := func(s []string) []string { return s }
	return jsonText(name, f, func(s []string) bool { return len(s) == 0 }, id, id)
}

// storedMetadata is a metadata item as the metadata column holds it. The
// metadata filter matches this encoding as text (see conditions.metadata):
// "key" must stay right before "value", and both must stay json.Marshal'd
// strings.
type storedMetadata struct {
	ID               string    `json:"id"`
	Key              string    `json:"key"`
	Value            string    `json:"value"`
	DisplayInInvoice bool      `json:"display_in_invoice"`
	CreatedAt        time.Time `json:"created_at"`
}

func toStoredMetadata(items []paysync.Metadata) []storedMetadata {
	out := make([]storedMetadata, len(items))
	for i, m := range items {
		out[i] = storedMetadata(m)
	}
	return out
}

func fromStoredMetadata(items []storedMetadata) []paysync.Metadata {
	if len(items) == 0 {
		return nil
	}
	out := make([]paysync.Metadata, len(items))
	for i, m := range items {
		out[i] = paysync.Metadata(m)
		out[i].CreatedAt = normTime(m.CreatedAt)
	}
	return out
}

// storedError is a *paysync.ProviderError as the last_error column holds
// it; unlike the type's own JSON it keeps RetryAfter.
type storedError struct {
	Provider   paysync.ProviderKind `json:"provider"`
	Code       string               `json:"code"`
	Message    string               `json:"message"`
	HTTPStatus int                  `json:"http_status,omitempty"`
	Retryable  bool                 `json:"retryable"`
	RetryAfter string               `json:"retry_after,omitempty"`
}

func toStoredError(e *paysync.ProviderError) storedError {
	s := storedError{Provider: e.Provider, Code: e.Code, Message: e.Message, HTTPStatus: e.HTTPStatus, Retryable: e.Retryable}
	if e.RetryAfter != 0 {
		s.RetryAfter = e.RetryAfter.String()
	}
	return s
}

func fromStoredError(s storedError) *paysync.ProviderError {
	e := &paysync.ProviderError{Provider: s.Provider, Code: s.Code, Message: s.Message, HTTPStatus: s.HTTPStatus, Retryable: s.Retryable}
	if s.RetryAfter != "" {
		// A value this package wrote always parses; a hand-edited one that
		// does not is dropped rather than failing every read of the customer.
		e.RetryAfter, _ = time.ParseDuration(s.RetryAfter)
	}
	return e
}
