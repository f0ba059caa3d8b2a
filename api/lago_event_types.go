package api

import "github.com/paysync/paysync"

// lagoEventTypes are the webhook types an endpoint may subscribe to: every
// type Lago names (lago-api's config/webhook_event_types.yml), so that a
// Lago client's subscription list is accepted as is, and paysync's own.
// paysync sends only the customer payment-provider ones.
var lagoEventTypes = map[string]bool{
	paysync.EventPaymentMethodUpdated: true,
	"alert.triggered":                 true, "billable_metric.created": true, "billable_metric.updated": true,
	"billable_metric.deleted": true, "customer.created": true, "customer.updated": true,
	"customer.accounting_provider_created": true, "customer.accounting_provider_error": true,
	"customer.crm_provider_created": true, "customer.crm_provider_error": true,
	"customer.payment_provider_created": true, "customer.payment_provider_error": true,
	"customer.checkout_url_generated": true, "customer.tax_provider_error": true, "customer.vies_check": true,
	"credit_note.created": true, "credit_note.generated": true, "credit_note.provider_refund_failure": true,
	"dunning_campaign.finished": true, "event.error": true, "events.errors": true, "feature.created": true,
	"feature.updated": true, "feature.deleted": true, "fee.created": true, "fee.tax_provider_error": true,
	"invoice.created": true, "invoice.one_off_created": true, "invoice.paid_credit_added": true,
	"invoice.generated": true, "invoice.drafted": true, "invoice.ready_to_finalize": true,
	"invoice.voided": true, "invoice.deleted": true, "invoice.payment_dispute_lost": true,
	"invoice.payment_status_updated": true, "invoice.payment_overdue": true, "invoice.payment_failure": true,
	"invoice.resynced": true, "integration.provider_error": true, "order.created": true, "order.executed": true,
	"order_form.created": true, "order_form.signed": true, "order_form.expired": true,
	"order_form.voided": true, "payment.succeeded": true, "payment.requires_action": true,
	"payment_provider.error": true, "payment_receipt.created": true, "payment_receipt.generated": true,
	"payment_request.created": true, "payment_request.payment_failure": true,
	"payment_request.payment_status_updated": true, "plan.created": true, "plan.updated": true,
	"plan.deleted": true, "quote.created": true, "quote.approved": true, "quote.voided": true,
	"subscription.canceled": true, "subscription.incomplete": true, "subscription.terminated": true,
	"subscription.started": true, "subscription.updated": true, "subscription.termination_alert": true,
	"subscription.trial_ended": true, "subscription.usage_threshold_reached": true, "wallet.created": true,
	"wallet.depleted_ongoing_balance": true, "wallet.terminated": true, "wallet.updated": true,
	"wallet_transaction.created": true, "wallet_transaction.updated": true,
	"wallet_transaction.payment_failure": true,
}
