package gocardless

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
)

// Error bodies in the shape GoCardless documents and its official clients
// parse: {"error":{"type","code","message","errors":[...],"request_id",
// "documentation_url"}}.
const (
	conflictBody = `{"error":{"message":"A resource has already been created with this idempotency key",
		"documentation_url":"https://developer.gocardless.com/api-reference#idempotent_creation_conflict",
		"type":"invalid_state","request_id":"0AA4000DECCD_AC121CEB1F90_5BE18701_19AD0009","code":409,
		"errors":[{"reason":"idempotent_creation_conflict","message":"A resource has already been created with this idempotency key",
		"links":{"conflicting_resource_id":"CU123"}}]}}`
	validationBody = `{"error":{"message":"Validation failed","documentation_url":"https://developer.gocardless.com/api-reference#validation_failed",
		"type":"validation_failed","request_id":"req_1","code":422,
		"errors":[{"field":"email","message":"is not a valid email address","request_pointer":"/customers/email"},
		{"field":"country_code","message":"is invalid","request_pointer":"/customers/country_code"}]}}`
	notFoundBody = `{"error":{"message":"not found","errors":[{"reason":"not_found","message":"not found"}],
		"documentation_url":"https://developer.gocardless.com/api-reference#not_found","type":"invalid_api_usage",
		"request_id":"0AA4000DECCD_AC121CEB1F90_5BE18701_19AD0009","code":404}}`
	authBody = `{"error":{"message":"Access token not found","errors":[{"reason":"access_token_not_found","message":"Access token not found"}],
		"documentation_url":"https://developer.gocardless.com/api-reference#access_token_not_found","type":"invalid_api_usage","request_id":"r","code":401}}`
	rateBody = `{"error":{"message":"Rate limit exceeded","errors":[{"reason":"rate_limit_exceeded","message":"Rate limit exceeded"}],
		"documentation_url":"https://developer.gocardless.com/api-reference#rate_limit_exceeded","type":"invalid_api_usage","request_id":"r","code":429}}`
	internalBody = `{"error":{"message":"Uh-oh!","errors":[{"reason":"internal_server_error","message":"Uh-oh!"}],
		"documentation_url":"https://developer.gocardless.com/api-reference#internal_server_error","type":"gocardless","request_id":"r","code":500}}`
	cancelBody = `{"error":{"message":"Mandate could not be cancelled","errors":[{"reason":"cancellation_failed","message":"Mandate could not be cancelled"}],
		"type":"invalid_state","request_id":"r","code":422}}`
	conflictWithoutIDBody = `{"error":{"message":"conflict","type":"invalid_state","code":409,
		"errors":[{"reason":"idempotent_creation_conflict","message":"conflict"}]}}`
)

func TestClassify(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name       string
		o          outcome
		code       string
		retryable  bool
		retryAfter time.Duration
		inMessage  string
	}{
		{"validation failed", outcome{Status: 422, Body: []byte(validationBody)}, "validation_failed", false, 0, "email is not a valid email address, country_code is invalid"},
		{"not found", outcome{Status: 404, Body: []byte(notFoundBody)}, "not_found", false, 0, "request_id 0AA4000DECCD"},
		{"bad token", outcome{Status: 401, Body: []byte(authBody)}, "access_token_not_found", false, 0, "Access token not found"},
		{"invalid state", outcome{Status: 422, Body: []byte(cancelBody)}, "cancellation_failed", false, 0, "could not be cancelled"},
		{"conflict without id", outcome{Status: 409, Body: []byte(conflictWithoutIDBody)}, "idempotent_creation_conflict", false, 0, "conflict"},
		{"internal error", outcome{Status: 500, Body: []byte(internalBody)}, "internal_server_error", true, 0, "Uh-oh!"},
		{"gateway without JSON", outcome{Status: 502, Body: []byte("<html>Bad Gateway</html>")}, "http_502", true, 0, "Bad Gateway"},
		{"gocardless type on 4xx", outcome{Status: 400, Body: []byte(strings.Replace(internalBody, `"code":500`, `"code":400`, 1))}, "internal_server_error", true, 0, ""},
		{"rate limited, HTTP date reset", outcome{Status: 429, Body: []byte(rateBody),
			Header: header("RateLimit-Limit", "1000", "RateLimit-Remaining", "0", "RateLimit-Reset", now.Add(42*time.Second).Format(http.TimeFormat))},
			"rate_limit_exceeded", true, 42 * time.Second, "Rate limit exceeded"},
		{"rate limited, reset in seconds", outcome{Status: 429, Body: []byte(rateBody), Header: header("RateLimit-Reset", "7")}, "rate_limit_exceeded", true, 7 * time.Second, ""},
		{"rate limited, Unix reset", outcome{Status: 429, Body: []byte(rateBody), Header: header("RateLimit-Reset", "1714564830")}, "rate_limit_exceeded", true, 30 * time.Second, ""},
		{"rate limited, Retry-After", outcome{Status: 429, Header: header("Retry-After", "5")}, "http_429", true, 5 * time.Second, ""},
		{"rate limited, reset passed", outcome{Status: 429, Body: []byte(rateBody), Header: header("RateLimit-Reset", now.Add(-time.Minute).Format(http.TimeFormat))}, "rate_limit_exceeded", true, time.Second, ""},
		{"rate limited, reset far away", outcome{Status: 429, Body: []byte(rateBody), Header: header("RateLimit-Reset", now.Add(24*time.Hour).Format(http.TimeFormat))}, "rate_limit_exceeded", true, maxRetryAfter, ""},
		{"rate limited, no hint", outcome{Status: 429, Body: []byte(rateBody)}, "rate_limit_exceeded", true, 0, ""},
		{"timeout", outcome{Err: &url.Error{Op: "Post", URL: "https://api.gocardless.com/customers", Err: context.DeadlineExceeded}}, "timeout", true, 0, "deadline exceeded"},
		{"client timeout", outcome{Err: &url.Error{Op: "Get", URL: "u", Err: timeoutErr{}}}, "timeout", true, 0, ""},
		{"cancelled", outcome{Err: &url.Error{Op: "Get", URL: "u", Err: context.Canceled}}, "canceled", true, 0, "context canceled"},
		{"request timeout without JSON", outcome{Status: 408, Body: []byte("<html>Request Timeout</html>")}, "http_408", true, 0, "Request Timeout"},
		{"connection refused", outcome{Err: &url.Error{Op: "Get", URL: "u", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}}, paysync.CodeNotSent, true, 0, "connection refused"},
		{"undecodable success", outcome{Status: 201, Err: errors.New("unexpected end of JSON input")}, "invalid_response", true, 0, "unexpected end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, pe := classify(tc.o, now)
			if id != "" || pe == nil {
				t.Fatalf("got conflict id %q, error %v", id, pe)
			}
			if pe.Provider != paysync.GoCardless || pe.Code != tc.code || pe.Retryable != tc.retryable ||
				pe.RetryAfter != tc.retryAfter || pe.HTTPStatus != tc.o.Status {
				t.Errorf("got %+v (retry after %s), want code %s retryable %v retry after %s", pe, pe.RetryAfter, tc.code, tc.retryable, tc.retryAfter)
			}
			if !strings.Contains(pe.Message, tc.inMessage) {
				t.Errorf("message %q does not contain %q", pe.Message, tc.inMessage)
			}
		})
	}
}

func TestClassifyAdoptsIdempotentCreationConflict(t *testing.T) {
	id, pe := classify(outcome{Status: 409, Body: []byte(conflictBody)}, time.Now())
	if pe != nil || id != "CU123" {
		t.Fatalf("got %q, %v; want the conflicting resource CU123", id, pe)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "Client.Timeout exceeded while awaiting headers" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
