package providers

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// HandlerTransport answers requests by calling an http.Handler in-process:
// sandbox connections reach their emulator without a network hop or a port.
type HandlerTransport struct {
	Handler http.Handler
}

// RoundTrip implements http.RoundTripper.
func (t HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	// The handler must see a server-side request: no RequestURI on the client
	// side, but handlers read URL.Path and Host.
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	w := &recorder{header: http.Header{}, done: make(chan struct{})}
	go func() {
		defer w.finish()
		// net/http's server would survive a handler's panic; so must the
		// worker calling an emulator in-process.
		defer func() {
			if p := recover(); p != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		t.Handler.ServeHTTP(w, in)
	}()
	select {
	case <-w.done:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()), Request: req,
	}, nil
}

type recorder struct {
	mu     sync.Mutex
	header http.Header
	status int
	body   bytes.Buffer
	done   chan struct{}
	once   sync.Once
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *recorder) finish() { r.once.Do(func() { close(r.done) }) }
