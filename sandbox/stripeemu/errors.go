package stripeemu

import (
	"fmt"
	"net/http"

	"github.com/paysync/paysync/sandbox/fault"
)

// apiError is Stripe's error object; status is the HTTP status it comes with.
type apiError struct {
	status  int
	typ     string
	code    string
	message string
	param   string
}

func (e *apiError) wire() map[string]any {
	body := map[string]any{"type": e.typ, "message": e.message}
	if e.code != "" {
		body["code"] = e.code
		body["doc_url"] = "https://stripe.com/docs/error-codes/" + e.code
	}
	if e.param != "" {
		body["param"] = e.param
	}
	return map[string]any{"error": body}
}

func invalid(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, message: fmt.Sprintf(format, args...)}
}

func unknownParam(param string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "parameter_unknown", param: param,
		message: "Received unknown parameter: " + param}
}

func missingParam(param string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "parameter_missing", param: param,
		message: "Missing required param: " + param + "."}
}

// noSuch is Stripe's resource_missing: 404 for the object in the path,
// 400 for an object referenced by a parameter.
func noSuch(status int, kind, id, param string) *apiError {
	return &apiError{status: status, typ: "invalid_request_error", code: "resource_missing", param: param,
		message: fmt.Sprintf("No such %s: '%s'", kind, id)}
}

// unknownError is the message of Stripe's 5xx api_error.
const unknownError = "An unknown error occurred. Please try again, or contact Stripe support."

// writeFault is the fault.Writer: the bodies Stripe sends with a 5xx or 429.
func writeFault(w http.ResponseWriter, status int, kind fault.Kind) {
	e := &apiError{status: status, typ: "api_error", message: unknownError}
	if kind == fault.RateLimited {
		e = &apiError{status: status, typ: "invalid_request_error", code: "rate_limit",
			message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."}
	}
	writeJSON(w, status, e.wire())
}
