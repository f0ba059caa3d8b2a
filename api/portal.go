package api

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

// portalPath is where the customer portal is served: portalPath+{token}.
const portalPath = "/portal/"

// handlePortalURL is GET /api/v1/customers/{external_id}/portal_url: a new
// link, valid for paysync.PortalLinkTTL, to the customer's portal page.
func handlePortalURL(d Deps, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := organizationFrom(r.Context())
		c, err := d.Store.Customer(r.Context(), org.ID, paysync.CustomerKey{ExternalID: r.PathValue("external_id")})
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "customer"))
			return
		}
		token, hash, err := paysync.NewPortalToken()
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		l := &paysync.PortalLink{TokenHash: hash, OrganizationID: org.ID, CustomerID: c.ID, ExpiresAt: time.Now().Add(paysync.PortalLinkTTL)}
		if err := d.Portals.AddPortalLink(r.Context(), l); err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"customer": map[string]string{"portal_url": d.PublicURL + portalPath + token}})
	})
}

// portalCustomer finds the customer a portal token opens; nil, nil when
// the token is unknown or expired, or the customer is gone.
func portalCustomer(ctx context.Context, d Deps, token string) (*paysync.Customer, error) {
	l, err := d.Portals.PortalLink(ctx, paysync.HashPortalToken(token))
	if paysync.ErrorCode(err) == paysync.ENOTFOUND || err == nil && !time.Now().Before(l.ExpiresAt) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := d.Store.Customer(ctx, l.OrganizationID, paysync.CustomerKey{ID: l.CustomerID})
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil, nil
	}
	return c, err
}

type portalLinkView struct {
	Provider, Connection, Status string
	HasPaymentMethod, CanSetup   bool
}

type portalView struct {
	Name    string
	Links   []portalLinkView
	Action  string // the setup form's target
	Error   string
	Waiting bool // back from a setup page, no payment method yet: reload
}

// handlePortal is GET /portal/{token}: the customer's payment setup.
func handlePortal(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		c, err := portalCustomer(r.Context(), d, token)
		if err != nil || c == nil {
			portalFailure(w, r, d.Logger, err)
			return
		}
		v := portalPage(d, c, token)
		v.Waiting = r.URL.Query().Get("setup") == "done" && c.Link != nil && !c.Link.HasPaymentMethod
		renderPortal(w, http.StatusOK, v)
	})
}

// handlePortalSetup is POST /portal/{token}/setup: the button, which sends
// the browser on to the provider's page for adding a payment method, and
// back to the portal from there.
func handlePortalSetup(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		c, err := portalCustomer(r.Context(), d, token)
		if err != nil || c == nil {
			portalFailure(w, r, d.Logger, err)
			return
		}
		back := d.PublicURL + portalPath + token + "?setup=done"
		target, err := portalSetupURL(r.Context(), d, c, back)
		if err != nil {
			v := portalPage(d, c, token)
			v.Error = "The payment provider could not start the setup: " + messageOf(err)
			status := statusOf(err)
			if status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "10")
				v.Error = "The payment provider is not reachable right now. Please try again in a minute."
			} else if status >= 500 {
				d.Logger.ErrorContext(r.Context(), "portal setup failed", "customer_id", c.ID, "err", err)
				v.Error = "Something went wrong. Please try again later."
			}
			renderPortal(w, status, v)
			return
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
}

// portalSetupURL is the provider's setup page: the one checkout_url makes,
// or, for a sandbox Braintree connection (Braintree hosts no such page),
// the emulator's vault form.
func portalSetupURL(ctx context.Context, d Deps, c *paysync.Customer, back string) (string, error) {
	if conn, ok := braintreeSandbox(d, c); ok {
		return conn.BaseURL + "/_sandbox/vault/" + url.PathEscape(c.Link.ProviderCustomerID) + "?return_url=" + url.QueryEscape(back), nil
	}
	return d.Service.SetupURL(ctx, c, back)
}

// braintreeSandbox returns the customer's connection when it is a synced
// link to a sandbox Braintree.
func braintreeSandbox(d Deps, c *paysync.Customer) (paysync.Connection, bool) {
	l := c.Link
	if l == nil || l.Provider != paysync.Braintree || l.State != paysync.SyncSynced || l.ProviderCustomerID == "" {
		return paysync.Connection{}, false
	}
	for _, conn := range d.Service.Connections.List(c.OrganizationID, l.Provider) {
		if conn.Code == l.ConnectionCode && conn.Sandbox && conn.BaseURL != "" {
			return conn, true
		}
	}
	return paysync.Connection{}, false
}

func portalPage(d Deps, c *paysync.Customer, token string) portalView {
	v := portalView{Name: customerName(c), Action: portalPath + token + "/setup"}
	if l := c.Link; l != nil {
		lv := portalLinkView{Provider: providerTitle(l.Provider), Connection: l.ConnectionCode, Status: syncStatusText(l.State), HasPaymentMethod: l.HasPaymentMethod}
		if l.State == paysync.SyncSynced && l.ProviderCustomerID != "" {
			_, lv.CanSetup = braintreeSandbox(d, c)
			if p, err := d.Service.Connections.Provider(c.OrganizationID, l.Provider, l.ConnectionCode); err == nil {
				_, linker := p.(paysync.SetupLinker)
				lv.CanSetup = lv.CanSetup || linker
			}
		}
		v.Links = append(v.Links, lv)
	}
	return v
}

func customerName(c *paysync.Customer) string {
	switch {
	case c.Name != "":
		return c.Name
	case c.FirstName != "" || c.LastName != "":
		return strings.TrimSpace(c.FirstName + " " + c.LastName)
	case c.LegalName != "":
		return c.LegalName
	}
	return c.ExternalID
}

func providerTitle(k paysync.ProviderKind) string {
	switch k {
	case paysync.Stripe:
		return "Stripe"
	case paysync.Adyen:
		return "Adyen"
	case paysync.GoCardless:
		return "GoCardless"
	case paysync.Braintree:
		return "Braintree"
	}
	return string(k)
}

func syncStatusText(s paysync.SyncState) string {
	switch s {
	case paysync.SyncSynced:
		return "Synced"
	case paysync.SyncPending:
		return "Being set up"
	case paysync.SyncFailed:
		return "Setup failed"
	}
	return string(s)
}

// portalFailure answers an unknown or expired token with a plain 404, and
// a store failure with a 503.
func portalFailure(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if err != nil {
		log.ErrorContext(r.Context(), "portal unavailable", "err", err)
		w.Header().Set("Retry-After", "10")
		renderMessage(w, http.StatusServiceUnavailable, "Temporarily unavailable", "This page cannot be shown right now. Please try again in a minute.")
		return
	}
	renderMessage(w, http.StatusNotFound, "Link not found", "This link is unknown or has expired. Ask for a new one.")
}

func renderPortal(w http.ResponseWriter, status int, v portalView) {
	writeHTML(w, status, portalTemplate, v)
}

func renderMessage(w http.ResponseWriter, status int, title, text string) {
	writeHTML(w, status, messageTemplate, map[string]string{"Title": title, "Text": text})
}

func writeHTML(w http.ResponseWriter, status int, t *template.Template, v any) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The token is in the URL: keep it out of Referer headers.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330;line-height:1.5}
main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.5rem;margin:0 0 1rem}
.card{background:#fff;border-radius:12px;padding:1rem 1.25rem;margin:0 0 1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.card h2{font-size:1.125rem;margin:0 0 .5rem}
dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}
dt{color:#5b6475}dd{margin:0;font-weight:600}
.ok{color:#137333}.no{color:#a50e0e}
button{display:block;width:100%;margin-top:1rem;padding:.875rem;font-size:1rem;font-weight:600;border:0;border-radius:8px;background:#1a56db;color:#fff}
.error{background:#fce8e6;color:#a50e0e;padding:.75rem 1rem;border-radius:8px}
.note{color:#5b6475;font-size:.875rem}
</style>`

var portalTemplate = template.Must(template.New("portal").Parse(pageHead + `
{{if .Waiting}}<meta http-equiv="refresh" content="2">{{end}}
<title>Payment details</title></head><body><main>
<h1>{{.Name}}</h1>
<p class="note">Your payment details</p>
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
{{range .Links}}<section class="card">
<h2>{{.Provider}}</h2>
<dl>
<dt>Account</dt><dd>{{.Connection}}</dd>
<dt>Status</dt><dd>{{.Status}}</dd>
<dt>Payment</dt><dd>{{if .HasPaymentMethod}}<span class="ok" id="payment-method">Payment method on file</span>{{else}}<span class="no" id="payment-method">No payment method on file</span>{{end}}</dd>
</dl>
{{if .CanSetup}}<form method="post" action="{{$.Action}}"><button type="submit" id="setup">{{if .HasPaymentMethod}}Change payment method{{else}}Add a payment method{{end}}</button></form>
{{else}}<p class="note">A payment method cannot be added here yet.</p>{{end}}
</section>{{else}}<p class="card">No payment provider is set up for this account.</p>{{end}}
{{if .Waiting}}<p class="note">Checking with the payment provider…</p>{{end}}
</main></body></html>
`))

var messageTemplate = template.Must(template.New("message").Parse(pageHead + `
<title>{{.Title}}</title></head><body><main>
<h1>{{.Title}}</h1><p>{{.Text}}</p>
</main></body></html>
`))
