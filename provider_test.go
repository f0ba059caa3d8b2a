package paysync

import "testing"

// Ambiguous is read from errors stored on links too: it depends on the
// stored code and status only.
func TestProviderErrorAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		err  *ProviderError
		want bool
	}{
		{nil, false},
		{&ProviderError{Code: CodeNotSent, Retryable: true}, false},
		{&ProviderError{Code: "timeout", Retryable: true}, true},
		{&ProviderError{Code: "network_error", Retryable: true}, true},
		{&ProviderError{Code: "canceled", Retryable: true}, true},
		{&ProviderError{Code: "invalid_request"}, false},
		{&ProviderError{Code: "api_error", HTTPStatus: 500, Retryable: true}, true},
		{&ProviderError{Code: "invalid_response", HTTPStatus: 201, Retryable: true}, true},
		{&ProviderError{Code: "rate_limit", HTTPStatus: 429, Retryable: true}, false},
		{&ProviderError{Code: "idempotency_error", HTTPStatus: 400}, false},
	} {
		if got := tc.err.Ambiguous(); got != tc.want {
			t.Errorf("%+v: Ambiguous() = %v, want %v", tc.err, got, tc.want)
		}
	}
}
