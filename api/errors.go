package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

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
// error only: request bodies and keys never reach the log); a dependency
// that is down is answered 503 with Retry-After.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, d dialect, err error) {
	status := statusOf(err)
	if status >= 500 {
		logFailure(r, log, status, err)
	}
	if status == http.StatusServiceUnavailable {
		setRetryAfter(w)
	}
	d.writeError(w, status, err)
}

// retryAfterUnavailable is what a 503 asks clients to wait: about as long
// as a database restart or a Redis failover takes, and short enough that
// a client retrying on it loses little once the dependency is back.
const retryAfterUnavailable = 5 * time.Second

func setRetryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(retryAfterUnavailable/time.Second)))
}

// failureNote carries a failed request's cause from the handler to the
// request's one log line (logRequests), so that a failure is logged once,
// on the line that has its method, route, status and duration.
type failureNote struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

type failureNoteKey struct{}

// withFailureNotes gives each request a note for logFailure to fill.
func withFailureNotes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), failureNoteKey{}, &failureNote{})))
	})
}

// logFailure records err as the cause of the request's failure: on the
// request's log line when the request has a note, else on a line of its
// own. An unavailable dependency is named.
func logFailure(r *http.Request, log *slog.Logger, status int, err error) {
	attrs := []slog.Attr{slog.Any("err", err)}
	if paysync.ErrorCode(err) == paysync.EUNAVAILABLE {
		attrs = append(attrs, slog.String("dependency", resourceOf(err)))
	}
	if n, ok := r.Context().Value(failureNoteKey{}).(*failureNote); ok {
		n.mu.Lock()
		n.attrs = append(n.attrs, attrs...)
		n.mu.Unlock()
		return
	}
	log.LogAttrs(r.Context(), slog.LevelError, "request failed",
		append([]slog.Attr{slog.String("request_id", requestIDFrom(r.Context())), slog.String("route", r.Pattern), slog.Int("status", status)}, attrs...)...)
}

// noteHandler adds the note of the request being logged to the record:
// the handler of the request log (logRequests), which logs with the
// request's context.
type noteHandler struct{ slog.Handler }

func (h noteHandler) Handle(ctx context.Context, rec slog.Record) error {
	if n, ok := ctx.Value(failureNoteKey{}).(*failureNote); ok {
		n.mu.Lock()
		attrs := n.attrs
		n.attrs = nil
		n.mu.Unlock()
		if len(attrs) > 0 {
			rec = rec.Clone()
			rec.AddAttrs(attrs...)
		}
	}
	return h.Handler.Handle(ctx, rec)
}

func (h noteHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return noteHandler{h.Handler.WithAttrs(attrs)}
}

func (h noteHandler) WithGroup(name string) slog.Handler {
	return noteHandler{h.Handler.WithGroup(name)}
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
