// Package sandbox serves paysync's sandbox mode: in-process emulators of
// the four providers (packages stripeemu, adyenemu, gocardlessemu and
// braintreeemu), their fault plans and webhook senders, and the state
// that keeps their objects across restarts (package state). The adapters
// in providers/ know nothing of it: a sandbox connection reaches its
// emulator with the credentials Credentials gives it, as a configured
// connection reaches the real provider.
package sandbox

import (
	"github.com/paysync/paysync"
	"github.com/paysync/paysync/sandbox/adyenemu"
	"github.com/paysync/paysync/sandbox/braintreeemu"
	"github.com/paysync/paysync/sandbox/gocardlessemu"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// Credentials returns the credentials a connection of kind needs to call
// its emulator and verify the emulator's signed webhooks; nil for an
// unknown kind.
func Credentials(kind paysync.ProviderKind) map[string]string {
	switch kind {
	case paysync.Stripe:
		return map[string]string{"secret_key": stripeemu.SandboxKey, "webhook_secret": stripeemu.SandboxWebhookSecret}
	case paysync.Adyen:
		return map[string]string{"api_key": adyenemu.SandboxAPIKey, "merchant_account": adyenemu.SandboxMerchantAccount,
			"hmac_key": adyenemu.SandboxWebhookSecret}
	case paysync.GoCardless:
		return map[string]string{"access_token": gocardlessemu.SandboxToken, "webhook_secret": gocardlessemu.SandboxWebhookSecret}
	case paysync.Braintree:
		// Braintree signs webhooks with the API key pair itself.
		return map[string]string{"merchant_id": braintreeemu.MerchantID, "public_key": braintreeemu.PublicKey,
			"private_key": braintreeemu.PrivateKey}
	}
	return nil
}
