package providers

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// LastResponse is what a RecordingTransport saw of the last response to the
// requests of one call: its status and headers also when the provider's
// SDK hands back an error without them (a proxy's HTML 502, a bare 429),
// and, when asked for, its body.
type LastResponse struct {
	// Status is 0 until a response arrives.
	Status int
	Header http.Header
	// Body is the raw body (still Content-Encoded) of a 200 answer, only
	// for a holder from WithLastResponseBody.
	Body []byte

	keepBody bool
}

type lastResponseKey struct{}

// WithLastResponse returns a context whose requests, sent through a
// RecordingTransport, record their response into the returned holder.
// http.Client calls RoundTrip on the caller's goroutine, so reading the
// holder once the call has returned needs no lock.
func WithLastResponse(ctx context.Context) (context.Context, *LastResponse) {
	return withLastResponse(ctx, false)
}

// WithLastResponseBody is WithLastResponse that also keeps the body of a
// 200 answer (up to 4 MiB), for fields the provider's SDK does not parse.
func WithLastResponseBody(ctx context.Context) (context.Context, *LastResponse) {
	return withLastResponse(ctx, true)
}

func withLastResponse(ctx context.Context, keepBody bool) (context.Context, *LastResponse) {
	last := &LastResponse{keepBody: keepBody}
	return context.WithValue(ctx, lastResponseKey{}, last), last
}

// maxRecordedBody bounds what a RecordingTransport buffers.
const maxRecordedBody = 4 << 20

// RecordingTransport is an http.RoundTripper that notes each response into
// the LastResponse its request's context carries (see WithLastResponse);
// requests whose context carries none pass through untouched.
type RecordingTransport struct {
	// Next carries the requests; nil means http.DefaultTransport.
	Next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t RecordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	last, ok := req.Context().Value(lastResponseKey{}).(*LastResponse)
	if err != nil || !ok {
		return resp, err
	}
	last.Status, last.Header, last.Body = resp.StatusCode, resp.Header.Clone(), nil
	if last.keepBody && resp.StatusCode == http.StatusOK {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxRecordedBody))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		last.Body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, nil
}
