package paysync

import (
	"context"

	"github.com/google/uuid"
)

// SetupLinker is implemented by adapters whose provider hosts a page where
// the end customer adds a payment method (Stripe Checkout in setup mode,
// an Adyen payment link, a GoCardless billing request flow).
type SetupLinker interface {
	SetupLink(ctx context.Context, c *Customer, providerCustomerID, returnURL, idempotencyKey string) (string, error)
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
		return "", FieldError(EINVALID, "payment_provider", "value_is_mandatory", "the customer has no payment provider")
	}
	if l.ProviderCustomerID == "" || l.State != SyncSynced {
		return "", FieldError(EINVALID, "provider_customer_id", "value_is_mandatory", "the customer does not exist at the payment provider yet")
	}
	p, err := s.Connections.Provider(c.OrganizationID, l.Provider, l.ConnectionCode)
	if err != nil {
		return "", err
	}
	linker, ok := p.(SetupLinker)
	if !ok {
		return "", FieldError(ENOTSUPPORTED, "payment_provider", "feature_not_supported", string(l.Provider)+" has no hosted page to add a payment method")
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
	url, err := linker.SetupLink(WithOperation(ctx, "setup_link"), c, l.ProviderCustomerID, returnURL, "paysync-setup-"+uuid.NewString())
	if err != nil {
		pe := AsProviderError(l.Provider, err)
		if pe.Retryable {
			return "", &Error{Code: EUNAVAILABLE, Message: string(l.Provider) + " is unavailable: " + pe.Code}
		}
		return "", FieldError(EINVALID, "payment_provider", pe.Code, pe.Message)
	}
	return url, nil
}
