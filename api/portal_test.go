package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/api"
)

// A portal link opens its customer's page until it expires, then answers
// a plain 404 page, as an unknown token does; another organization's
// customer has no portal link.
func TestPortalLinkExpires(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		h := newHarness(t, dsn, func(d *api.Deps) {
			d.Portals = d.Store.(paysync.PortalStore)
			d.PublicURL = "https://paysync.example"
		})
		wantStatus(t, h.post(`{"customer": {"external_id": "c1", "name": "Ada Lovelace"}}`), 200)
		r := h.get("/api/v1/customers/c1/portal_url")
		wantStatus(t, r, 200)
		link, _ := path(r.json(t), "customer", "portal_url").(string)
		token, ok := strings.CutPrefix(link, "https://paysync.example/portal/")
		if !ok || len(token) < 43 {
			t.Fatalf("portal_url %q", link)
		}
		page := h.do("GET", "/portal/"+token, "", nil)
		wantStatus(t, page, 200)
		if !strings.Contains(string(page.body), "Ada Lovelace") || !strings.Contains(string(page.body), `name="viewport"`) ||
			page.header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("portal page: %s", page.body)
		}

		// The same customer, through a link that expired a second ago.
		c := h.customer("c1")
		expired := "expired-token-0123456789012345678901234567890"
		err := h.store.AddPortalLink(context.Background(), &paysync.PortalLink{TokenHash: paysync.HashPortalToken(expired),
			OrganizationID: c.OrganizationID, CustomerID: c.ID, ExpiresAt: time.Now().Add(-time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{expired, "unknown"} {
			page := h.do("GET", "/portal/"+tok, "", nil)
			wantStatus(t, page, 404)
			if strings.Contains(string(page.body), "Ada Lovelace") || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
				t.Fatalf("token %q: %s", tok, page.body)
			}
			wantStatus(t, h.do("POST", "/portal/"+tok+"/setup", "", nil), 404)
		}

		_, otherKey := h.newOrganization("other")
		r = h.do("GET", "/api/v1/customers/c1/portal_url", otherKey, nil)
		wantStatus(t, r, 404)
		if code := r.json(t)["code"]; code != "customer_not_found" {
			t.Fatalf("other organization: %s", r.body)
		}
	})
}
