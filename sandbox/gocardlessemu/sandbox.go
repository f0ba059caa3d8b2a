package gocardlessemu

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"time"
)

// sandboxAttach is POST /_sandbox/customers/{id}/mandates: what a payer
// completing a flow does, for scripts that cannot drive a browser. An
// optional body {"scheme": "...", "status": "..."} shapes the mandate.
func (e *Emulator) sandboxAttach(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Scheme string `json:"scheme"`
		Status string `json:"status"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
			writeError(w, http.StatusBadRequest, typeInvalidAPIUsage, "Invalid document structure",
				errorDetail{Reason: "invalid_document_structure", Message: err.Error()})
			return
		}
	}
	if in.Status == "" {
		in.Status = "active"
	}
	if in.Scheme != "" && !slices.Contains(schemes, in.Scheme) {
		validationError(w, "mandates", errorDetail{Field: "scheme", Message: "is not a supported scheme"})
		return
	}
	if !slices.Contains(mandateStatuses, in.Status) {
		validationError(w, "mandates", errorDetail{Field: "status", Message: "is not a mandate status"})
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.pathCustomer(w, r)
	if !ok {
		return
	}
	m := e.addMandate(c, in.Scheme, in.Status)
	e.emit(lifecycleEvents(m, "api", descCreatedAPI))
	writeJSON(w, http.StatusCreated, map[string]any{"mandates": m})
}

// sandboxCancel is DELETE /_sandbox/customers/{id}/mandates.
func (e *Emulator) sandboxCancel(w http.ResponseWriter, r *http.Request) {
	if err := e.CancelMandates(r.PathValue("id")); err != nil {
		notFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var flowTemplate = template.Must(template.New("flow").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GoCardless sandbox: set up a Direct Debit</title></head>
<body>
<h1>Set up a Direct Debit</h1>
{{if .Done}}<p>This mandate is set up.</p>
{{else if .Expired}}<p>This link has expired.</p>
{{else}}<p>Sandbox payer page for billing request {{.BillingRequest}}{{if .Scheme}} ({{.Scheme}}){{end}}.
No bank details are needed: authorising creates an active mandate.</p>
<form method="post"><button type="submit">Authorise mandate</button></form>
{{if .ExitURI}}<p><a href="{{.ExitURI}}">Cancel and go back</a></p>{{end}}
{{end}}
</body></html>
`))

type flowView struct {
	BillingRequest string
	Scheme         string
	ExitURI        string
	Done, Expired  bool
}

// flowPage is the payer page an authorisation_url points at.
func (e *Emulator) flowPage(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	f, ok := e.flows[r.PathValue("id")]
	var v flowView
	if ok {
		v = flowView{BillingRequest: f.Links.BillingRequest, Done: f.done, Expired: time.Now().After(f.expires)}
		if br := e.billingRequests[f.Links.BillingRequest]; br != nil && br.MandateRequest.Scheme != nil {
			v.Scheme = *br.MandateRequest.Scheme
		}
		if f.ExitURI != nil {
			v.ExitURI = *f.ExitURI
		}
	}
	e.mu.Unlock()
	if !ok {
		http.Error(w, "billing request flow not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = flowTemplate.Execute(w, v)
}

// completeFlow is the payer authorising: the billing request is fulfilled
// with an active mandate and the payer goes to redirect_uri.
func (e *Emulator) completeFlow(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	f, ok := e.flows[r.PathValue("id")]
	if !ok {
		e.mu.Unlock()
		http.Error(w, "billing request flow not found", http.StatusNotFound)
		return
	}
	br := e.billingRequests[f.Links.BillingRequest]
	if time.Now().After(f.expires) || f.done || br.Status != "pending" {
		e.mu.Unlock()
		http.Error(w, "this flow can no longer be completed", http.StatusGone)
		return
	}
	scheme := ""
	if br.MandateRequest.Scheme != nil {
		scheme = *br.MandateRequest.Scheme
	}
	m := e.addMandate(e.customers[br.Links["customer"]], scheme, "pending_submission")
	e.emit(lifecycleEvents(m, "payer", descCreatedFlow))
	br.Status = "fulfilled"
	br.Links["mandate_request_mandate"] = m.ID
	br.MandateRequest.Links["mandate"] = m.ID
	for i := range br.Actions {
		br.Actions[i].Status = "completed"
	}
	f.done = true
	e.saveBillingRequest(br)
	e.saveFlow(f)
	redirect := f.RedirectURI
	e.mu.Unlock()
	if redirect != nil {
		http.Redirect(w, r, *redirect, http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = flowTemplate.Execute(w, flowView{Done: true})
}
