package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxBodyBytes caps every request body: a customer is a few kilobytes.
const maxBodyBytes = 1 << 20

// encode writes v as the JSON response body with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// The status is sent; a failed write means the client went away.
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads the whole request body, refusing more than maxBodyBytes
// with a 413 before anything is decoded or stored.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errTooLarge
	case err != nil:
		return nil, badRequest("the request body could not be read")
	}
	return b, checkText(b)
}

// decodeObject parses body as one JSON object, keeping each value raw so
// that a dialect can tell an absent key from a null one.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, badRequest("malformed JSON: " + syntax.Error())
		case errors.As(err, &typ):
			return nil, badRequest("the request body must be a JSON object")
		}
		return nil, badRequest("malformed JSON")
	}
	return obj, nil
}

// isNull reports whether a raw JSON value is the literal null.
func isNull(raw json.RawMessage) bool { return string(raw) == "null" }
