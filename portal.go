package paysync

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// PortalLinkTTL is how long a customer portal link opens the portal.
const PortalLinkTTL = 24 * time.Hour

// PortalLink lets whoever holds its token see one customer's payment setup
// and add a payment method, until it expires. Only the token's hash is
// stored.
type PortalLink struct {
	TokenHash      string
	OrganizationID string
	CustomerID     string
	ExpiresAt      time.Time
	CreatedAt      time.Time
}

// PortalStore keeps portal links.
type PortalStore interface {
	// AddPortalLink stores a link (and forgets expired ones).
	AddPortalLink(ctx context.Context, l *PortalLink) error
	// PortalLink finds the link whose token hashes to tokenHash, expired or
	// not; an unknown one is ENOTFOUND.
	PortalLink(ctx context.Context, tokenHash string) (*PortalLink, error)
}

// NewPortalToken returns a fresh portal token (256 random bits) and the
// hash to store.
func NewPortalToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashPortalToken(token), nil
}

// HashPortalToken is the stored form of a portal token.
func HashPortalToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
