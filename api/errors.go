package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/paysync/paysync"
)

// requestError is a failure of the request itself (size, syntax) found
// before any domain logic runs.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

var errTooLarge = &requestError{status: http.StatusRequestEntityTooLarge, msg: "the request body is larger than 1 MiB"}

func badRequest(msg string) error { return &requestError{status: http.StatusBadRequest, msg: msg} }

// statusByCode is the HTTP status of each error code, for every dialect.
// A dialect whose peer answers some status differently maps it when it
// writes the error (see dialect.writeError).
var statusByCode = map[string]int{
	paysync.EINVALID:       http.StatusUnprocessableEntity,
	paysync.ENOTSUPPORTED:  http.StatusUnprocessableEntity,
	paysync.EMISSINGCONFIG: http.StatusUnprocessableEntity,
	paysync.ENOTFOUND:      http.StatusNotFound,
	paysync.ECONFLICT:      http.StatusConflict,
	paysync.EUNAUTHORIZED:  http.StatusUnauthorized,
	paysync.EUNAVAILABLE:   http.StatusServiceUnavailable,
	paysync.EINTERNAL:      http.StatusInternalServerError,
}

// statusOf is the HTTP status of err: a request error's own, else its
// code's; 500 for anything else.
func statusOf(err error) int {
	var re *requestError
	if errors.As(err, &re) {
		return re.status
	}
	if status, ok := statusByCode[paysync.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// dialect is what differs between the client APIs paysync speaks, for the
// parts every route shares: where the API key is, and how an error looks.
type dialect struct {
	// key returns the API key the request carries, "" when none.
	key func(r *http.Request) string
	// writeError renders err with the status statusOf chose. A dialect
	// whose peer answers some failure with another status (Lotus reports
	// duplicates as 400) may write that status instead.
	writeError func(w http.ResponseWriter, status int, err error)
}

// fail answers err in d's shape. Server-side failures are logged (the
// error only: request bodies and keys never reach the log).
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, d dialect, err error) {
	status := statusOf(err)
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "request_id", requestIDFrom(r.Context()), "route", r.Pattern, "status", status, "err", err)
	}
	d.writeError(w, status, err)
}

// fieldsOf returns the per-field problems an error carries, or nil.
func fieldsOf(err error) map[string][]string {
	var e *paysync.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// messageOf returns the client-safe message of err: what the request or
// domain said, never the text of an internal error.
func messageOf(err error) string {
	var re *requestError
	if errors.As(err, &re) {
		return re.msg
	}
	var e *paysync.Error
	if errors.As(err, &e) && e.Code != paysync.EINTERNAL {
		return e.Message
	}
	return ""
}

// resourceOf names what was not found; "object" when unknown.
func resourceOf(err error) string {
	var e *paysync.Error
	if errors.As(err, &e) && e.Resource != "" {
		return e.Resource
	}
	return "object"
}

// notFound marks a not-found error from the store as being about resource.
func notFound(err error, resource string) error {
	var e *paysync.Error
	if errors.As(err, &e) && e.Code == paysync.ENOTFOUND && e.Resource == "" {
		c := *e
		c.Resource = resource
		return &c
	}
	return err
}

// handleNotFound answers a route that does not exist, in d's shape.
func handleNotFound(d dialect, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, log, d, &paysync.Error{Code: paysync.ENOTFOUND, Resource: "route", Message: "no such route"})
	})
}
