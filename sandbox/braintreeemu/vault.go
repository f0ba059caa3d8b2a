package braintreeemu

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
)

// The vault form stands in for the Drop-in UI a merchant's own page would
// show: Braintree hosts no page of its own where a customer adds a card.
//
//	GET  /_sandbox/vault/{id}?return_url=...  the form
//	POST /_sandbox/vault/{id}                 vaults a test card, then back to return_url

var vaultPage = template.Must(template.New("vault").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Braintree sandbox: save a card</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}
button{width:100%;padding:.875rem;font-size:1rem;border:0;border-radius:8px;background:#202124;color:#fff}</style></head>
<body><h1>Braintree sandbox</h1><p>Save the test card 4111 1111 1111 1111 for customer <code>{{.ID}}</code>.</p>
<form method="post"><input type="hidden" name="return_url" value="{{.ReturnURL}}">
<button type="submit" id="submit">Save card</button></form></body></html>
`))

func (e *Emulator) vaultForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = vaultPage.Execute(w, map[string]string{"ID": r.PathValue("id"), "ReturnURL": r.URL.Query().Get("return_url")})
}

func (e *Emulator) vaultSubmit(w http.ResponseWriter, r *http.Request) {
	if _, err := e.AttachPaymentMethod(r.PathValue("id")); errors.Is(err, errNotFound) {
		http.Error(w, "customer not found", http.StatusNotFound)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	back, err := url.Parse(r.PostFormValue("return_url"))
	if err != nil || (back.Scheme != "http" && back.Scheme != "https") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Card saved.\n"))
		return
	}
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}
