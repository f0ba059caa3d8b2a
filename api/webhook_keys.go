package api

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/paysync/paysync"
)

// publicKeyBase64 is what Lago answers for its webhook key: the PEM of the
// public key (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY") in base64 broken
// into lines of 60 characters, each ending in a newline (Ruby's
// Base64.encode64). Lago's clients strip the breaks before decoding.
func publicKeyBase64(r *http.Request, keys paysync.WebhookKeyStore) (string, error) {
	key, err := keys.WebhookSigningKey(r.Context(), organizationFrom(r.Context()).ID)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	b.WriteString(enc + "\n")
	return b.String(), nil
}

// handlePublicKey is GET /api/v1/webhooks/public_key: the key verifying this
// organization's JWT webhooks, as plain text, as Lago answers it.
func handlePublicKey(keys paysync.WebhookKeyStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := publicKeyBase64(r, keys)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, key)
	})
}

// handleJSONPublicKey is GET /api/v1/webhooks/json_public_key: the same
// key in Lago's JSON envelope.
func handleJSONPublicKey(keys paysync.WebhookKeyStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := publicKeyBase64(r, keys)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"webhook": map[string]string{"public_key": key}})
	})
}
