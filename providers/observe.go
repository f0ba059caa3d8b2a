package providers

import (
	"net/http"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/metrics"
)

// observed times every HTTP call of one connection for the provider call
// metrics, once for every adapter. It sits below the rate limiter, so that
// the latency is the provider's and the wait is counted apart
// (paysync_rate_limit_wait_seconds). Labels are the provider kind, the
// operation carried in the context (paysync.WithOperation) and the error
// code: never a URL, which carries provider customer ids.
type observed struct {
	kind paysync.ProviderKind
	next http.RoundTripper
}

func (t observed) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	code := ""
	switch {
	case err != nil:
		code = TransportError(t.kind, err).Code
	case resp.StatusCode >= 400:
		code = StatusError(t.kind, resp.StatusCode, nil, start).Code
	}
	metrics.ObserveProviderCall(string(t.kind), paysync.OperationOf(req.Context()), code, time.Since(start))
	return resp, err
}
