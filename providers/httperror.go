package providers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/paysync/paysync"
)

// ErrNotSent wraps the error of a request that was never sent, such as a
// rate-limit wait cut short by the caller's deadline: the provider did
// nothing, so the failure is not ambiguous.
var ErrNotSent = errors.New("request not sent")

// The classification every adapter shares. An adapter's classify calls
// TransportError when a call got no HTTP answer, or StatusError for the
// answer's status, then refines the result with what only its provider's
// error body says: its own Code and Message, and exceptions such as a
// status the provider documents as worth a retry.

// TransportError classifies a call that got no HTTP answer. Every adapter's
// calls are safe to repeat, so all are retryable. The Code is
// paysync.CodeNotSent when the request never left (no connection could be
// made, or the rate-limit wait ran out: see ErrNotSent), and otherwise,
// when it may or may not have reached the provider, "timeout" for a
// deadline or a network timeout, "canceled" for a cancelled context and
// "network_error" for anything else (a reset connection, an unreadable
// answer). err must not be nil.
func TransportError(kind paysync.ProviderKind, err error) *paysync.ProviderError {
	pe := &paysync.ProviderError{Provider: kind, Code: "network_error", Message: err.Error(), Retryable: true}
	var t interface{ Timeout() bool }
	var op *net.OpError
	switch {
	case errors.Is(err, ErrNotSent), errors.As(err, &op) && op.Op == "dial":
		pe.Code = paysync.CodeNotSent
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &t) && t.Timeout():
		pe.Code = "timeout"
	case errors.Is(err, context.Canceled):
		pe.Code = "canceled"
	}
	return pe
}

// StatusError is the generic classification of an answer with HTTP status
// status, before the provider's error body is read:
//
//   - 429: retryable "rate_limited", RetryAfter from header's Retry-After
//   - 408: retryable "timeout"
//   - 5xx: retryable "server_error"
//   - 2xx: retryable "invalid_response" (a success the call could not use,
//     e.g. a body that does not decode: a proxy or a truncated answer)
//   - 401: permanent "authentication_error"
//   - 403: permanent "permission_error"
//   - any other status (4xx, an unfollowed 3xx): permanent HTTPCode(status)
//
// The Message is the status text. header may be nil.
func StatusError(kind paysync.ProviderKind, status int, header http.Header, now time.Time) *paysync.ProviderError {
	pe := &paysync.ProviderError{Provider: kind, HTTPStatus: status, Message: http.StatusText(status)}
	switch {
	case status == http.StatusTooManyRequests:
		pe.Code, pe.Retryable = "rate_limited", true
		pe.RetryAfter = RetryAfter(header.Get("Retry-After"), now)
	case status == http.StatusRequestTimeout:
		pe.Code, pe.Retryable = "timeout", true
	case status >= 500:
		pe.Code, pe.Retryable = "server_error", true
	case status >= 200 && status < 300:
		pe.Code, pe.Retryable = "invalid_response", true
	case status == http.StatusUnauthorized:
		pe.Code = "authentication_error"
	case status == http.StatusForbidden:
		pe.Code = "permission_error"
	default:
		// 400 malformed, 404 wrong path, 422 refused: the same request
		// fails the same way again.
		pe.Code = HTTPCode(status)
	}
	return pe
}

// HTTPCode is the Code of an answer known only by its status: "http_"
// and the status, e.g. "http_404".
func HTTPCode(status int) string { return "http_" + strconv.Itoa(status) }
