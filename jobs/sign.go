package jobs

import (
	"context"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paysync/paysync"
)

// signature is the X-Lago-Signature of one delivery and its algorithm.
type signature struct{ value, algo string }

// signature signs a delivery as the endpoint asks, now: Lago reads the
// endpoint's algorithm at each attempt too. An endpoint stored before JWT
// existed (no algorithm) keeps HMAC, what it was created with.
func (d *Deliverer) signature(ctx context.Context, e *paysync.WebhookEndpoint, del *paysync.Delivery) (signature, error) {
	if e.SignatureAlgo != paysync.SignatureJWT {
		key, err := d.Endpoints.WebhookHMACKey(ctx, del.OrganizationID)
		if err != nil {
			return signature{}, err
		}
		return signature{Sign(key, del.Body), paysync.SignatureHMAC}, nil
	}
	key, err := d.Keys.WebhookSigningKey(ctx, del.OrganizationID)
	if err != nil {
		return signature{}, err
	}
	token, err := SignJWT(key, d.Issuer, del.Body)
	if err != nil {
		return signature{}, err
	}
	return signature{token, paysync.SignatureJWT}, nil
}

// SignJWT is Lago's JWT webhook signature: an RS256 token whose claims are
// the body sent, as a string, in "data" and the sender's URL in "iss".
func SignJWT(key any, issuer string, body []byte) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"data": string(body), "iss": issuer}).SignedString(key)
}
