package paysync

import (
	"context"
	"crypto/rsa"
	"slices"
)

// Signature algorithms of client webhooks, as Lago names them. JWT is
// Lago's default: an RS256 token whose "data" claim is the body.
const (
	SignatureJWT  = "jwt"
	SignatureHMAC = "hmac"
)

// MaxWebhookEndpoints is Lago's limit of endpoints per organization.
const MaxWebhookEndpoints = 10

// Subscribed reports whether the endpoint receives webhooks of type typ.
func (e *WebhookEndpoint) Subscribed(typ string) bool {
	return len(e.EventTypes) == 0 || slices.Contains(e.EventTypes, typ)
}

// WebhookKeyStore keeps each organization's RSA key pair that signs its JWT
// client webhooks. The key is generated on first use and never leaves the
// store but to sign.
type WebhookKeyStore interface {
	// WebhookSigningKey returns the organization's key, creating it on
	// first use; concurrent first uses all get the one key stored.
	WebhookSigningKey(ctx context.Context, orgID string) (*rsa.PrivateKey, error)
}
