package gocardless

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

// outcome is one HTTP exchange as classify sees it: a transport failure
// (Status 0, Err set), an answer that could not be understood (Err set), or
// an error answer (Status and Body).
type outcome struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

// errorBody is GoCardless's error envelope.
type errorBody struct {
	Error struct {
		Type             string `json:"type"`
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
		RequestID        string `json:"request_id"`
		Errors           []struct {
			Reason         string `json:"reason"`
			Message        string `json:"message"`
			Field          string `json:"field"`
			RequestPointer string `json:"request_pointer"`
			Links          struct {
				ConflictingResourceID string `json:"conflicting_resource_id"`
			} `json:"links"`
		} `json:"errors"`
	} `json:"error"`
}

// maxRetryAfter bounds a rate-limit wait read from GoCardless's clock, so
// that clock skew cannot park a job for long; GoCardless's window is a minute.
const maxRetryAfter = 5 * time.Minute

// classify is the one place where a GoCardless failure becomes retryable or
// permanent. A repeated create whose idempotency key already created a
// resource is not a failure: classify returns that resource's id instead.
func classify(o outcome, now time.Time) (conflictID string, err *paysync.ProviderError) {
	if o.Status == 0 {
		// No answer: the request may or may not have been applied, and a
		// retry with the same idempotency key settles it.
		return "", providers.TransportError(paysync.GoCardless, o.Err)
	}
	if o.Err != nil {
		// An answer we could not read: retrying a read is harmless, and a
		// retried create comes back as an idempotency conflict.
		return "", &paysync.ProviderError{Provider: paysync.GoCardless, Code: "invalid_response",
			Message: o.Err.Error(), HTTPStatus: o.Status, Retryable: true}
	}

	var body errorBody
	parsed := json.Unmarshal(o.Body, &body) == nil && body.Error.Type != ""
	e := body.Error
	if parsed && e.Type == "invalid_state" {
		for _, d := range e.Errors {
			if d.Reason == "idempotent_creation_conflict" && d.Links.ConflictingResourceID != "" {
				return d.Links.ConflictingResourceID, nil
			}
		}
	}

	// invalid_api_usage (auth, not found, bad request), invalid_state and
	// validation_failed are permanent: the same request fails the same way
	// again.
	pe := providers.StatusError(paysync.GoCardless, o.Status, o.Header, now)
	pe.Code, pe.Message = describe(o, body, parsed)
	if o.Status == http.StatusTooManyRequests {
		// GoCardless says when its window reopens in RateLimit-Reset.
		pe.RetryAfter = retryAfter(o.Header, now)
	}
	if e.Type == "gocardless" {
		// An error on GoCardless's side, whatever the status.
		pe.Retryable = true
	}
	return "", pe
}

// describe keeps GoCardless's own words: the first error reason (else the
// error type) as the code, and the message with the per-field details.
func describe(o outcome, body errorBody, parsed bool) (code, msg string) {
	if !parsed {
		text := strings.TrimSpace(string(o.Body))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		msg = http.StatusText(o.Status)
		if text != "" {
			msg += ": " + text
		}
		return providers.HTTPCode(o.Status), msg
	}
	e := body.Error
	code = e.Type
	var details []string
	for _, d := range e.Errors {
		if code == e.Type && d.Reason != "" {
			code = d.Reason
		}
		switch {
		case d.Field != "":
			details = append(details, d.Field+" "+d.Message)
		case d.Message != "" && d.Message != e.Message:
			details = append(details, d.Message)
		}
	}
	msg = e.Message
	if len(details) > 0 {
		msg += " (" + strings.Join(details, ", ") + ")"
	}
	if e.RequestID != "" {
		msg += " [request_id " + e.RequestID + "]"
	}
	return code, msg
}

// retryAfter reads when GoCardless lets the client in again. GoCardless
// sends RateLimit-Reset as an HTTP date; seconds, a Unix time and a
// Retry-After header are understood too. Zero means "no hint".
func retryAfter(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{"RateLimit-Reset", "Retry-After"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		var d time.Duration
		if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			d = t.Sub(now)
		} else if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if n > 1_000_000_000 { // a Unix time, not a delay
				d = time.Unix(n, 0).Sub(now)
			} else {
				d = time.Duration(n) * time.Second
			}
		} else {
			continue
		}
		// A reset already past (or our clock ahead) still asks for a pause.
		return min(max(d, time.Second), maxRetryAfter)
	}
	return 0
}
