package api

import (
	"io"
	"net/http"
)

// SetupDonePath is where setup pages send the end customer when a
// connection names no return_url of its own.
const SetupDonePath = "/setup/done"

func handleSetupDone() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>Done</title><p>Your payment method is saved. You can close this page.</p>\n")
	})
}
