package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/paysync/paysync"
)

type timeoutErr struct{}

func (timeoutErr) Error() string { return "Client.Timeout exceeded while awaiting headers" }
func (timeoutErr) Timeout() bool { return true }

// hanging serves requests that never answer, until the client gives up.
func hanging(t *testing.T) (srv *httptest.Server, arrived <-chan struct{}) {
	t.Helper()
	in := make(chan struct{}, 16)
	stop := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first: no handler outlives the test
	return srv, in
}

func TestTransportError(t *testing.T) {
	t.Parallel()
	srv, _ := hanging(t)
	inFlight, arrived := hanging(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more

	get := func(ctx context.Context, client *http.Client, u string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s answered %s", u, resp.Status)
		}
		return err
	}
	for _, tc := range []struct {
		name string
		err  func() error
		code string
	}{
		// Refused: the request never left, so the provider did nothing.
		{"connection refused", func() error { return get(context.Background(), http.DefaultClient, closed.URL) }, paysync.CodeNotSent},
		{"rate-limit wait ran out", func() error {
			return &url.Error{Op: "Get", URL: "u", Err: fmt.Errorf("%w: %w", ErrNotSent, context.DeadlineExceeded)}
		}, paysync.CodeNotSent},
		{"context deadline", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			return get(ctx, http.DefaultClient, srv.URL)
		}, "timeout"},
		{"client timeout", func() error {
			return get(context.Background(), &http.Client{Timeout: 50 * time.Millisecond}, srv.URL)
		}, "timeout"},
		{"cancelled in flight", func() error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-arrived
				cancel()
			}()
			return get(ctx, http.DefaultClient, inFlight.URL)
		}, "canceled"},
		{"cancelled before", func() error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return get(ctx, http.DefaultClient, srv.URL)
		}, "canceled"},
		{"net timeout", func() error { return &url.Error{Op: "Get", URL: "u", Err: timeoutErr{}} }, "timeout"},
		{"bare deadline", func() error { return context.DeadlineExceeded }, "timeout"},
		{"bare cancel", func() error { return context.Canceled }, "canceled"},
		{"reset", func() error {
			return &url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}}
		}, "network_error"},
		{"unreadable answer", func() error { return errors.New("unexpected EOF") }, "network_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			pe := TransportError(paysync.Adyen, err)
			if pe.Provider != paysync.Adyen || pe.Code != tc.code || !pe.Retryable || pe.HTTPStatus != 0 || pe.RetryAfter != 0 || pe.Message != err.Error() {
				t.Errorf("TransportError(%v) = %+v, want retryable %s with the error's message", err, pe, tc.code)
			}
			// Only a request that never left is known to have done nothing.
			if pe.Ambiguous() != (tc.code != paysync.CodeNotSent) {
				t.Errorf("%s: Ambiguous() = %v", tc.code, pe.Ambiguous())
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	retryAfter := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	for _, tc := range []struct {
		status     int
		header     http.Header
		code       string
		retryable  bool
		retryAfter time.Duration
	}{
		{429, retryAfter("3"), "rate_limited", true, 3 * time.Second},
		{429, retryAfter(now.Add(90 * time.Second).Format(http.TimeFormat)), "rate_limited", true, 90 * time.Second},
		{429, nil, "rate_limited", true, 0},
		{408, retryAfter("3"), "timeout", true, 0},
		{500, retryAfter("3"), "server_error", true, 0},
		{502, nil, "server_error", true, 0},
		{503, nil, "server_error", true, 0},
		{504, nil, "server_error", true, 0},
		{200, nil, "invalid_response", true, 0},
		{201, nil, "invalid_response", true, 0},
		{401, nil, "authentication_error", false, 0},
		{403, nil, "permission_error", false, 0},
		{400, nil, "http_400", false, 0},
		{404, nil, "http_404", false, 0},
		{409, nil, "http_409", false, 0},
		{422, retryAfter("3"), "http_422", false, 0},
		{304, nil, "http_304", false, 0},
	} {
		pe := StatusError(paysync.GoCardless, tc.status, tc.header, now)
		if pe.Provider != paysync.GoCardless || pe.HTTPStatus != tc.status || pe.Code != tc.code ||
			pe.Retryable != tc.retryable || pe.RetryAfter != tc.retryAfter || pe.Message != http.StatusText(tc.status) {
			t.Errorf("StatusError(%d, %v) = %+v (RetryAfter %s), want code %s retryable %v retry after %s",
				tc.status, tc.header, pe, pe.RetryAfter, tc.code, tc.retryable, tc.retryAfter)
		}
	}
}
