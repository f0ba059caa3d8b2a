package paysync

import (
	"context"

	"github.com/google/uuid"
)

// Notifier sends client webhooks about a customer to its organization's
// endpoints. checkoutURL is set for EventCheckoutURLGenerated only.
type Notifier interface {
	Notify(ctx context.Context, c *Customer, webhookType, checkoutURL string) error
}

// CheckoutURL creates a setup link where the end customer adds a payment
// method at the customer's provider (Lago's checkout_url), and announces
// it with a customer.checkout_url_generated webhook.
func (s *Service) CheckoutURL(ctx context.Context, orgID, externalID string) (*Customer, string, error) {
	c, err := s.Store.Customer(ctx, orgID, CustomerKey{ExternalID: externalID})
	if err != nil {
		return nil, "", err
	}
	url, err := s.SetupURL(ctx, c, "")
	if err != nil {
		return nil, "", err
	}
	if s.Notifier != nil {
		if err := s.Notifier.Notify(ctx, c, EventCheckoutURLGenerated, url); err != nil {
			s.Logger.Warn("checkout_url webhook not queued", "customer_id", c.ID, "err", err)
		}
	}
	return c, url, nil
}

// SetupURL creates a setup link at the customer's provider that sends the
// end customer to returnURL afterwards ("" for the connection's own).
func (s *Service) SetupURL(ctx context.Context, c *Customer, returnURL string) (string, error) {
	l := c.Link
	if l == nil {
		return "", &Error{Code: EINVALID, Message: "the customer has no payment provider",
			Fields: map[string][]string{"payment_provider": {"value_is_mandatory"}}}
	}
	if l.ProviderCustomerID == "" || l.State != SyncSynced {
		return "", &Error{Code: EINVALID, Message: "the customer does not exist at the payment provider yet",
			Fields: map[string][]string{"provider_customer_id": {"value_is_mandatory"}}}
	}
	p, err := s.Connections.Provider(c.OrganizationID, l.Provider, l.ConnectionCode)
	if err != nil {
		return "", err
	}
	linker, ok := p.(SetupLinker)
	if !ok {
		return "", &Error{Code: ENOTSUPPORTED, Message: string(l.Provider) + " has no hosted page to add a payment method",
			Fields: map[string][]string{"payment_provider": {"feature_not_supported"}}}
	}
	if returnURL == "" {
		for _, conn := range s.Connections.List(c.OrganizationID, l.Provider) {
			if conn.Code == l.ConnectionCode {
				returnURL = conn.ReturnURL
			}
		}
	}
	// Every call makes a new link, as Lago's does; the key only guards the
	// one call against the adapter's own retries.
	url, err := linker.SetupLink(ctx, c, l.ProviderCustomerID, returnURL, "paysync-setup-"+uuid.NewString())
	if err != nil {
		pe := AsProviderError(l.Provider, err)
		if pe.Retryable {
			return "", &Error{Code: EUNAVAILABLE, Message: string(l.Provider) + " is unavailable: " + pe.Code}
		}
		return "", &Error{Code: EINVALID, Message: pe.Message,
			Fields: map[string][]string{"payment_provider": {pe.Code}}}
	}
	return url, nil
}
