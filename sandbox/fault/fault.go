// Package fault injects failures into the provider emulators: latency,
// server errors, rate limiting with the provider's own headers, timeouts
// and a request-rate cap. Tests drive it through Go; sandbox users through
// the emulator's /_faults endpoint.
package fault

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Kind is what an injected fault answers.
type Kind string

const (
	// ServerError answers the configured 5xx status.
	ServerError Kind = "server_error"
	// RateLimited answers 429 with the provider's rate-limit headers.
	RateLimited Kind = "rate_limited"
	// Timeout holds the request until the client gives up.
	Timeout Kind = "timeout"
)

// Settings is the fault plan; the zero value injects nothing.
type Settings struct {
	// Latency delays every request.
	Latency time.Duration `json:"latency"`
	// FailNext makes the next FailNext requests fail with Fail.
	FailNext int  `json:"fail_next"`
	Fail     Kind `json:"fail"`
	// Status is the status for ServerError (default 500).
	Status int `json:"status"`
	// RetryAfter is what RateLimited asks the client to wait.
	RetryAfter time.Duration `json:"retry_after"`
	// RateCap answers 429 to requests beyond this many per second; 0 is none.
	RateCap float64 `json:"rate_cap"`
}

// Writer writes a provider's own error body for status; headers such as
// Retry-After are already set.
type Writer func(w http.ResponseWriter, status int, kind Kind)

// RateLimitHeaders sets a provider's rate-limit headers on a 429.
type RateLimitHeaders func(h http.Header, retryAfter time.Duration)

// RetryAfterHeader is the standard header (Stripe, Adyen, Braintree).
func RetryAfterHeader(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
}

// Injector holds the current fault plan and counts the requests it saw and
// the faults it answered: an emulator's provider calls, which tests and the
// benchmark read (in Go, or as the counts in GET /_faults).
type Injector struct {
	mu          sync.Mutex
	s           Settings
	limiter     *rate.Limiter
	injected    int
	requests    int
	rateLimited int
	headers     RateLimitHeaders
	write       Writer
}

// New returns an injector that answers faults through write and sets 429
// headers through headers (RetryAfterHeader when nil).
func New(write Writer, headers RateLimitHeaders) *Injector {
	if headers == nil {
		headers = RetryAfterHeader
	}
	return &Injector{write: write, headers: headers}
}

// Set replaces the fault plan.
func (f *Injector) Set(s Settings) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s = s
	f.limiter = nil
	if s.RateCap > 0 {
		f.limiter = rate.NewLimiter(rate.Limit(s.RateCap), max(1, int(s.RateCap)))
	}
}

// Reset removes every fault.
func (f *Injector) Reset() { f.Set(Settings{}) }

// Injected counts the faults answered so far.
func (f *Injector) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected
}

// Requests counts the requests seen so far, faulted or not.
func (f *Injector) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// RateLimited counts the 429s answered so far, by RateCap or by a
// rate_limited fault.
func (f *Injector) RateLimited() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rateLimited
}

// next decides the fate of one request.
func (f *Injector) next() (latency time.Duration, kind Kind, s Settings) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	s = f.s
	switch {
	case f.limiter != nil && !f.limiter.Allow():
		kind = RateLimited
		if s.RetryAfter == 0 {
			s.RetryAfter = time.Second
		}
	case f.s.FailNext > 0:
		f.s.FailNext--
		kind = f.s.Fail
		if kind == "" {
			kind = ServerError
		}
	}
	if kind != "" {
		f.injected++
	}
	if kind == RateLimited {
		f.rateLimited++
	}
	return s.Latency, kind, s
}

// Wrap puts the fault plan in front of an emulator's handler.
func (f *Injector) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		latency, kind, s := f.next()
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		switch kind {
		case "":
			next.ServeHTTP(w, r)
		case Timeout:
			// Hold the request until the client gives up, bounded so a
			// forgotten fault cannot pin a goroutine forever. The body is
			// read first: net/http notices a client that went away only
			// once the body is consumed.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Minute):
			}
		case RateLimited:
			f.headers(w.Header(), s.RetryAfter)
			f.write(w, http.StatusTooManyRequests, kind)
		default:
			status := s.Status
			if status == 0 {
				status = http.StatusInternalServerError
			}
			f.write(w, status, kind)
		}
	})
}

// Handler serves the fault plan: GET shows it, PUT or POST replaces it
// with a JSON Settings (durations as Go duration strings), DELETE clears it.
// Each answer also carries the counts so far: requests, injected and
// rate_limited (the plan's changes keep them).
func (f *Injector) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut, http.MethodPost:
			var in struct {
				Settings
				Latency    string `json:"latency"`
				RetryAfter string `json:"retry_after"`
			}
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
				http.Error(w, "fault settings: "+err.Error(), http.StatusBadRequest)
				return
			}
			s := in.Settings
			for _, d := range []struct {
				field string
				src   string
				dst   *time.Duration
			}{{"latency", in.Latency, &s.Latency}, {"retry_after", in.RetryAfter, &s.RetryAfter}} {
				if d.src == "" {
					continue
				}
				v, err := time.ParseDuration(d.src)
				if err != nil {
					http.Error(w, "fault settings: "+d.field+": "+err.Error(), http.StatusBadRequest)
					return
				}
				*d.dst = v
			}
			f.Set(s)
		case http.MethodDelete:
			f.Reset()
		default:
			w.Header().Set("Allow", "GET, PUT, POST, DELETE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		f.mu.Lock()
		s, requests, injected, rateLimited := f.s, f.requests, f.injected, f.rateLimited
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"latency": s.Latency.String(), "fail_next": s.FailNext, "fail": s.Fail, "status": s.Status,
			"retry_after": s.RetryAfter.String(), "rate_cap": s.RateCap,
			"requests": requests, "injected": injected, "rate_limited": rateLimited,
		})
	})
}
