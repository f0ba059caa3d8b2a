package stripeemu

import (
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// setupMethodTypes are the payment method types a setup session accepts here.
var setupMethodTypes = []string{
	"acss_debit", "au_becs_debit", "bacs_debit", "bancontact", "card", "cashapp", "ideal",
	"link", "paypal", "sepa_debit", "sofort", "us_bank_account",
}

func (e *Emulator) createSession(r *request) (int, any, *apiError) {
	f := r.form
	if p := unknown(f, "", "mode", "customer", "payment_method_types", "success_url", "cancel_url",
		"client_reference_id", "metadata", "currency", "expand", "locale"); p != "" {
		return 0, nil, unknownParam(p)
	}
	mode, _ := str(f, "mode")
	switch mode {
	case "":
		return 0, nil, missingParam("mode")
	case "setup":
	case "payment", "subscription":
		return 0, nil, invalid("mode", "stripeemu supports only mode=setup Checkout Sessions.")
	default:
		return 0, nil, invalid("mode", "Invalid mode: must be one of payment, setup, or subscription")
	}
	s := &session{id: newID("cs_test_", 58), created: e.now().Unix(), status: "open", setupIntent: newID("seti_", 24)}
	s.customer, _ = str(f, "customer")
	if s.customer != "" {
		if _, ok := e.live(s.customer); !ok {
			return 0, nil, noSuch(http.StatusBadRequest, "customer", s.customer, "customer")
		}
	}
	s.paymentMethodTypes = list(f, "payment_method_types")
	for i, t := range s.paymentMethodTypes {
		if !slices.Contains(setupMethodTypes, t) {
			param := "payment_method_types[" + strconv.Itoa(i) + "]"
			return 0, nil, invalid(param, "Invalid %s: must be one of %s", param, strings.Join(setupMethodTypes, ", "))
		}
	}
	if currency, _ := str(f, "currency"); len(s.paymentMethodTypes) == 0 && currency == "" {
		return 0, nil, invalid("currency", "You must provide either `payment_method_types` or `currency` in `setup` mode.")
	}
	if len(s.paymentMethodTypes) == 0 {
		s.paymentMethodTypes = []string{"card"}
	}
	s.successURL, _ = str(f, "success_url")
	if s.successURL == "" {
		return 0, nil, missingParam("success_url")
	}
	s.cancelURL, _ = str(f, "cancel_url")
	s.clientReference, _ = str(f, "client_reference_id")
	for k, v := range sub(f, "metadata") {
		if s.metadata == nil {
			s.metadata = map[string]string{}
		}
		s.metadata[k] = v[0]
	}
	s.url = baseURL(r.Request) + "/checkout/" + s.id
	e.sessions[s.id] = s
	e.saveSession(s)
	return http.StatusOK, s.wire(), nil
}

func (e *Emulator) getSession(r *request) (int, any, *apiError) {
	id := r.PathValue("id")
	s, ok := e.sessions[id]
	if !ok {
		return 0, nil, noSuch(http.StatusNotFound, "checkout.session", id, "session")
	}
	return http.StatusOK, s.wire(), nil
}

// baseURL is where the emulator is reachable for the client that called
// it, including the prefix it is mounted under (http.StripPrefix leaves
// RequestURI untouched).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	path, _, _ := strings.Cut(r.RequestURI, "?")
	prefix, ok := strings.CutSuffix(path, r.URL.EscapedPath())
	if !ok {
		prefix = ""
	}
	return scheme + "://" + r.Host + prefix
}

var checkoutPage = template.Must(template.New("checkout").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Stripe sandbox: save a payment method</title></head>
<body>
<h1>Stripe sandbox checkout</h1>
{{if eq .Status "open"}}
<p>Setup session {{.ID}} for customer {{.Customer}} ({{.Types}}).</p>
<form method="post"><button type="submit">Save test card 4242</button></form>
{{else}}
<p>This session is {{.Status}}.</p>
{{end}}
</body></html>
`))

// checkoutPage is the hosted page of a setup session.
func (e *Emulator) checkoutPage(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	s, ok := e.sessions[r.PathValue("id")]
	var data struct{ ID, Customer, Types, Status string }
	if ok {
		data.ID, data.Customer, data.Types, data.Status = s.id, s.customer, strings.Join(s.paymentMethodTypes, ", "), s.status
	}
	e.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = checkoutPage.Execute(w, data)
}

// checkoutComplete completes a setup session: a test card is attached to
// its customer, and the browser goes to success_url.
func (e *Emulator) checkoutComplete(w http.ResponseWriter, r *http.Request) {
	target, status, msg := e.complete(r.PathValue("id"))
	if status != 0 {
		http.Error(w, msg, status)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (e *Emulator) complete(id string) (target string, status int, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.sessions[id]
	if !ok {
		return "", http.StatusNotFound, "no such checkout session"
	}
	if s.status != "open" {
		return "", http.StatusConflict, "this session is " + s.status
	}
	// The end customer completed the page: Stripe's events name no API
	// request. They come in the order Stripe sends them: the payment
	// method, the SetupIntent, then the session.
	var pm *paymentMethod
	if s.customer != "" {
		var err error
		if pm, err = e.attachNotify(s.customer, eventRequest{}); err != nil {
			return "", http.StatusConflict, "the session's customer no longer exists"
		}
	}
	s.status = "complete"
	e.saveSession(s)
	e.emit("setup_intent.succeeded", setupIntentWire(s, pm, s.created), nil, eventRequest{})
	e.emit("checkout.session.completed", s.wire(), nil, eventRequest{})
	return strings.ReplaceAll(s.successURL, "{CHECKOUT_SESSION_ID}", s.id), 0, ""
}
