package adyen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/adyen/adyen-go-api-library/v9/src/common"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

// call runs one library request and classifies its outcome.
func call(do func() (*http.Response, error)) (err error) {
	defer func() {
		// The library type-asserts fields of error bodies and panics on a
		// malformed one (e.g. "message": null): a bad response must not take
		// the worker down.
		if r := recover(); r != nil {
			err = &paysync.ProviderError{Provider: paysync.Adyen, Code: "invalid_response",
				Message: fmt.Sprintf("unreadable Adyen response: %v", r), Retryable: true}
		}
	}()
	res, err := do()
	return classify(res, err)
}

// classify turns what the library returned into a *paysync.ProviderError:
// the one place that decides whether an Adyen failure is worth a retry.
// The library hands back the *http.Response even for error statuses, so
// Retry-After is read from it directly.
func classify(res *http.Response, err error) error {
	if err == nil {
		return nil
	}
	var apiErr common.APIError
	if res == nil || !errors.As(err, &apiErr) {
		// No answer from Adyen: connection refused, reset, timeout.
		code := "network_error"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isTimeout(err) {
			code = "timeout"
		}
		return &paysync.ProviderError{Provider: paysync.Adyen, Code: code, Message: err.Error(), Retryable: true}
	}
	status := res.StatusCode
	pe := &paysync.ProviderError{
		Provider:   paysync.Adyen,
		Code:       apiErr.Code,
		Message:    apiErr.Message,
		HTTPStatus: status,
	}
	if pe.Code == "" {
		pe.Code = "http_" + strconv.Itoa(status)
	}
	if pe.Message == "" {
		pe.Message = apiErr.Err
	}
	switch {
	case status < 300:
		// A success status whose body could not be decoded: likely a proxy
		// or a truncated answer, worth another try.
		pe.Code, pe.Retryable = "invalid_response", true
	case status == http.StatusTooManyRequests:
		pe.Retryable = true
		pe.RetryAfter = providers.RetryAfter(res.Header.Get("Retry-After"), time.Now())
	case status == http.StatusRequestTimeout || status >= 500:
		pe.Retryable = true
	default:
		// 400 malformed, 401 bad key, 403 key without the merchant account
		// or role, 404 wrong endpoint, 422 validation: retrying cannot help.
		pe.Retryable = false
	}
	return pe
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
