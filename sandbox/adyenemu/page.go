package adyenemu

import (
	"html/template"
	"net/http"
)

// linkPage stands in for Adyen's hosted Pay by Link page: one button that
// plays a shopper entering a test card.
var linkPage = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Adyen sandbox payment link {{.ID}}</title></head>
<body>
<h1>Adyen sandbox: payment link {{.ID}}</h1>
<p>Status: <strong>{{.Status}}</strong>. Amount: {{.Amount}}.</p>
{{if eq .Status "active"}}
<form method="post">
<p>{{if .Store}}Completing this page stores the test card Visa •••• 1111 for the shopper.{{else}}Completing this page pays the link.{{end}}</p>
<button type="submit">Complete with test card</button>
</form>
{{end}}
</body></html>
`))

func (e *Emulator) serveLinkPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e.mu.Lock()
	l, ok := e.links[id]
	var data struct {
		ID, Status string
		Amount     any
		Store      bool
	}
	if ok {
		data.ID, data.Status, data.Amount, data.Store = l.id, e.currentStatus(l), l.fields["amount"], l.storeMethod
	}
	e.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = linkPage.Execute(w, data)
}

// serveLinkComplete completes the link and sends the shopper back to the
// merchant's returnUrl, as the hosted page does.
func (e *Emulator) serveLinkComplete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := e.CompletePaymentLink(id); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	e.mu.Lock()
	returnURL := e.links[id].returnURL
	e.mu.Unlock()
	if returnURL != "" {
		http.Redirect(w, r, returnURL, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
}
