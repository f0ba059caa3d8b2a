package paysync

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes; each maps to one HTTP status in one place (api/errors.go).
const (
	EINVALID       = "invalid"        // input fails validation
	ENOTFOUND      = "not_found"      // no such resource
	ECONFLICT      = "conflict"       // duplicate resource
	EUNAUTHORIZED  = "unauthorized"   // no or unknown API key
	EINTERNAL      = "internal"       // paysync's own fault
	EUNAVAILABLE   = "unavailable"    // a dependency is down
	ENOTSUPPORTED  = "not_supported"  // the provider cannot do it
	EMISSINGCONFIG = "missing_config" // e.g. payment_provider_code needed
)

// Error is a domain error that the API layer renders in each dialect's shape.
type Error struct {
	Code    string
	Message string
	// Fields maps a request field (dialect-neutral snake_case name) to
	// reasons such as "value_is_mandatory" or "invalid_value".
	Fields map[string][]string
	// Resource names what was not found or duplicated ("customer"), or,
	// for EUNAVAILABLE, the dependency that is down ("database", "redis").
	Resource string
	// Err is the cause, for logs only: clients see Message.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("paysync: %s: %s", e.Code, e.Message)
	if len(e.Fields) > 0 {
		s += " (" + e.fieldList() + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, so that errors.Is still sees, for example, a
// context deadline or driver.ErrBadConn under an EUNAVAILABLE.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) fieldList() string {
	keys := make([]string, 0, len(e.Fields))
	for k, v := range e.Fields {
		keys = append(keys, k+": "+strings.Join(v, ","))
	}
	sort.Strings(keys)
	return strings.Join(keys, "; ")
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable returns an EUNAVAILABLE *Error: dependency ("database",
// "redis") could not be reached; cause is kept for the log.
func Unavailable(dependency string, cause error) *Error {
	return &Error{Code: EUNAVAILABLE, Resource: dependency, Message: "the " + dependency + " is unavailable, try again later", Err: cause}
}

// FieldError returns an *Error of code about one request field: reason is
// for the client's code ("value_is_mandatory"), message for a person.
func FieldError(code, field, reason, message string) *Error {
	return &Error{Code: code, Message: message, Fields: map[string][]string{field: {reason}}}
}

// ErrorCode returns the code of err's *Error, EINTERNAL for any other error,
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// Validation collects per-field problems; Err returns nil when there are none.
type Validation map[string][]string

// Add records reason for field.
func (v Validation) Add(field, reason string) { v[field] = append(v[field], reason) }

// Err returns the collected problems as an EINVALID *Error, or nil.
func (v Validation) Err() error {
	if len(v) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "validation errors", Fields: v}
}
