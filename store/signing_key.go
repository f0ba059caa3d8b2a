package store

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/paysync/paysync"
)

var _ paysync.WebhookKeyStore = (*DB)(nil)

// signingKeyBits is the size of the RSA keys that sign JWT webhooks, as
// Lago's.
const signingKeyBits = 2048

// WebhookSigningKey implements paysync.WebhookKeyStore. The first use
// generates a key and inserts it only if none is there yet, then reads
// back whichever key won: concurrent first uses all sign with one key.
func (db *DB) WebhookSigningKey(ctx context.Context, orgID string) (*rsa.PrivateKey, error) {
	key, err := db.readSigningKey(ctx, orgID)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return key, err
	}
	fresh, err := rsa.GenerateKey(rand.Reader, signingKeyBits)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(fresh)
	if err != nil {
		return nil, err
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if _, err := db.rw.ExecContext(ctx, `INSERT INTO webhook_signing_keys (organization_id, private_key, created_at)
		VALUES ($1, $2, $3) ON CONFLICT (organization_id) DO NOTHING`, orgID, string(block), now()); err != nil {
		return nil, fmt.Errorf("store: insert webhook signing key: %w", err)
	}
	return db.readSigningKey(ctx, orgID)
}

// readSigningKey reads from the primary: a key inserted a moment ago must
// be found, not generated again.
func (db *DB) readSigningKey(ctx context.Context, orgID string) (*rsa.PrivateKey, error) {
	var text string
	err := db.rw.QueryRowContext(ctx, "SELECT private_key FROM webhook_signing_keys WHERE organization_id = $1", orgID).Scan(&text)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("store: the stored webhook signing key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("store: the stored webhook signing key does not parse")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("store: the stored webhook signing key is not RSA")
	}
	return rk, nil
}
