package adyen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paysync/paysync"
)

// statusAnswer is the error of a CustomerStatus call that Adyen answers
// with status and the JSON body.
func statusAnswer(t *testing.T, status int, body string) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	p, err := New(paysync.Connection{Credentials: map[string]string{"api_key": "k", "merchant_account": "M"}, BaseURL: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.CustomerStatus(context.Background(), "shopper")
	return err
}

// The library panics on error bodies whose fields have unexpected types;
// the adapter must turn that into a retryable error, not crash.
func TestMalformedErrorBodyIsRetryable(t *testing.T) {
	t.Parallel()
	err := statusAnswer(t, http.StatusBadGateway, `{"status":502,"errorCode":"000","message":null}`)
	var pe *paysync.ProviderError
	if !errors.As(err, &pe) || !pe.Retryable || pe.Code != "invalid_response" {
		t.Fatalf("got %v, want retryable invalid_response", err)
	}
}

// A 408 is retryable, as in every adapter, with Adyen's own errorCode.
func TestRequestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	err := statusAnswer(t, http.StatusRequestTimeout, `{"status":408,"errorCode":"000","message":"Request timed out","errorType":"internal"}`)
	var pe *paysync.ProviderError
	if !errors.As(err, &pe) || !pe.Retryable || pe.Code != "000" || pe.HTTPStatus != http.StatusRequestTimeout || pe.Message != "Request timed out" {
		t.Fatalf("got %v, want retryable 408 000 with Adyen's message", err)
	}
}

func TestFitKey(t *testing.T) {
	t.Parallel()
	short := "paysync-0b9f3a7e-6c1d-4f5e-9a2b-3c4d5e6f7a8b-12"
	if fitKey(short) != short {
		t.Error("a key within 64 characters was changed")
	}
	long := short + short
	if k := fitKey(long); len(k) != 64 || k != fitKey(long) || k == fitKey(long+"x") {
		t.Errorf("fitKey(long) = %q: want a stable, distinct 64-character key", k)
	}
}
