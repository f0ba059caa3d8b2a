package adyenemu

import (
	"fmt"
	"html/template"
	"math/big"
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
		Amount     string
		Store      bool
	}
	if ok {
		data.ID, data.Status, data.Amount, data.Store = l.id, e.currentStatus(l), formatAmount(l.fields["amount"]), l.storeMethod
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

// minorUnits are the currencies whose minor unit is not a hundredth, as
// Adyen's currency table lists them.
var minorUnits = map[string]int{
	"CVE": 0, "DJF": 0, "GNF": 0, "IDR": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// formatAmount renders an Adyen amount ({currency, value in minor units})
// as a person reads it: "EUR 0.00", "JPY 500", "KWD 1.250".
func formatAmount(v any) string {
	amount, _ := v.(map[string]any)
	currency, _ := amount["currency"].(string)
	minor, ok := new(big.Rat).SetString(fmt.Sprint(amount["value"]))
	if currency == "" || !ok {
		return "none"
	}
	digits, listed := minorUnits[currency]
	if !listed {
		digits = 2
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
	return currency + " " + minor.Quo(minor, scale).FloatString(digits)
}
