package adyen

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
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
		return providers.TransportError(paysync.Adyen, err)
	}
	// 400 malformed, 401 bad key, 403 key without the merchant account or
	// role, 404 wrong endpoint, 422 validation: retrying cannot help. A
	// success status comes with an error only when its body could not be
	// decoded: likely a proxy or a truncated answer, worth another try,
	// and it keeps the generic code.
	pe := providers.StatusError(paysync.Adyen, res.StatusCode, res.Header, time.Now())
	pe.Message = cmp.Or(apiErr.Message, apiErr.Err)
	if res.StatusCode >= 300 {
		pe.Code = cmp.Or(apiErr.Code, providers.HTTPCode(res.StatusCode))
	}
	return pe
}
