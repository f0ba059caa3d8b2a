package stripe

import (
	"cmp"
	"errors"
	"net/http"
	"regexp"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

// classify turns any error of a Stripe call into a *paysync.ProviderError:
// the one place where retry or give up is decided. err must not be nil;
// last is what the call's transport recorded (see
// providers.WithLastResponse), or nil.
func classify(err error, last *providers.LastResponse) *paysync.ProviderError {
	var se *stripego.Error
	var status int
	switch {
	case errors.As(err, &se):
		status = se.HTTPStatusCode
	case last != nil && last.Status >= 400:
		// An answer that is not Stripe's error JSON, e.g. from a proxy:
		// stripe-go reports it without a status or headers.
		status = last.Status
	default:
		// No answer at all: the request may or may not have reached Stripe,
		// and the idempotency key makes another attempt safe.
		return providers.TransportError(paysync.Stripe, err)
	}
	var header http.Header
	if last != nil && last.Status == status {
		header = last.Header
	}
	now := time.Now()
	pe := providers.StatusError(paysync.Stripe, status, header, now)
	if se != nil {
		pe.Code = cmp.Or(string(se.Code), string(se.Type))
		pe.Message = redact(pe.Code, se.Msg)
	} else {
		pe.Code = providers.HTTPCode(status)
	}
	// Besides 408, 429 and 5xx, a 409 is worth another attempt: a lock
	// timeout or a concurrent request with the same idempotency key. The
	// rest (400 invalid_request_error and idempotency_error, 401
	// authentication, 402 card_error, 403 permission, 404 missing) fail the
	// same way again. (CreateCustomer turns an idempotency_error into a
	// retry when its search finds nothing.)
	if status == http.StatusConflict {
		pe.Retryable = true
	}
	if pe.Retryable {
		// Stripe may ask for a pause on any answer worth retrying.
		pe.RetryAfter = providers.RetryAfter(header.Get("Retry-After"), now)
	}
	return pe
}

var emailPattern = regexp.MustCompile(`[^\s'"<>()]*@[^\s'"<>()]*`)

// redact removes email addresses from Stripe's messages, since the message
// is stored and sent in webhooks. An invalid email is echoed back whole,
// even when it has no @, so that message is replaced.
func redact(code, msg string) string {
	if code == "email_invalid" {
		return "Invalid email address."
	}
	return emailPattern.ReplaceAllString(msg, "[redacted]")
}
