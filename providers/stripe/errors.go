package stripe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

// lastResponse is what the transport saw of the last response to a call:
// its status and Retry-After, also for answers stripe-go cannot parse (a
// proxy's HTML 502 yields a plain error with no status or headers).
type lastResponse struct {
	status     int
	retryAfter string
}

type lastResponseKey struct{}

// withLastResponse returns a context whose requests record their response
// into the returned holder. http.Client calls RoundTrip on the caller's
// goroutine, so reading the holder after the call needs no lock.
func withLastResponse(ctx context.Context) (context.Context, *lastResponse) {
	last := &lastResponse{}
	return context.WithValue(ctx, lastResponseKey{}, last), last
}

// transport records each response's status and Retry-After for classify.
type transport struct {
	next http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if last, ok := req.Context().Value(lastResponseKey{}).(*lastResponse); ok && resp != nil {
		last.status = resp.StatusCode
		last.retryAfter = resp.Header.Get("Retry-After")
	}
	return resp, err
}

// classify turns any error of a Stripe call into a *paysync.ProviderError:
// the one place where retry or give up is decided. err must not be nil.
func classify(err error, last *lastResponse) *paysync.ProviderError {
	pe := &paysync.ProviderError{Provider: paysync.Stripe}
	var se *stripego.Error
	switch {
	case errors.As(err, &se):
		pe.HTTPStatus = se.HTTPStatusCode
		pe.Code = string(se.Code)
		if pe.Code == "" {
			pe.Code = string(se.Type)
		}
		pe.Message = redact(pe.Code, se.Msg)
	case last != nil && last.status >= 400:
		// An answer that is not Stripe's error JSON, e.g. from a proxy.
		pe.HTTPStatus = last.status
		pe.Code = "http_" + strconv.Itoa(last.status)
		pe.Message = http.StatusText(last.status)
	default:
		// No answer at all: the request may or may not have reached Stripe,
		// and the idempotency key makes another attempt safe.
		pe.Code = "network_error"
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			pe.Code = "timeout"
		}
		pe.Message = err.Error()
		pe.Retryable = true
		return pe
	}
	if last != nil && last.status == pe.HTTPStatus {
		pe.RetryAfter = providers.RetryAfter(last.retryAfter, time.Now())
	}
	switch s := pe.HTTPStatus; {
	case s == http.StatusConflict, s == http.StatusTooManyRequests, s >= 500:
		// 409: a lock timeout or a concurrent request with the same
		// idempotency key; 429: rate limited; 5xx: Stripe's side.
		pe.Retryable = true
	default:
		// 400 invalid_request_error and idempotency_error, 401
		// authentication, 402 card_error, 403 permission, 404 missing: the
		// same request will fail the same way. (CreateCustomer turns an
		// idempotency_error into a retry when its search finds nothing.)
		pe.Retryable = false
		pe.RetryAfter = 0
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
