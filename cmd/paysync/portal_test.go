package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 9, item 3: the portal link opens a page that shows the customer's
// payment setup, and its button takes a real browser through the
// provider's sandbox setup page and back, after which the page and the
// API show the payment method. Braintree, which hosts no setup page, goes
// through the sandbox's vault form.
func TestCustomerPortalInChromium(t *testing.T) {
	b := startBrowser(t)
	// Only the provider's webhook can flip the flag: no scheduled refresh.
	s := startServer(t, merge(baseEnv(t), backends[0].env(t), map[string]string{"PAYSYNC_REFRESH_INTERVAL": "1h"}))

	if code, body := s.do(t, "GET", "/api/v1/customers/nobody/portal_url", nil); code != 404 || body["code"] != "customer_not_found" {
		t.Fatalf("portal_url of an unknown customer: %d %v", code, body)
	}
	resp, err := http.Get(s.URL + "/portal/not-a-token")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(page), "unknown or has expired") {
		t.Fatalf("unknown token: %d %s", resp.StatusCode, page)
	}

	for _, p := range []struct{ provider, setupPage, button string }{
		{"stripe", "/sandbox/stripe/checkout/", "form button[type=submit]"},
		{"braintree", "/sandbox/braintree/_sandbox/vault/", "#submit"},
	} {
		ext := "portal-" + p.provider
		code, body := s.do(t, "POST", "/api/v1/customers", customerFor(p.provider, ext, true))
		if code != 200 || billing(t, body)["provider_sync_status"] != "synced" {
			t.Fatalf("create: %d %v", code, body)
		}
		code, body = s.do(t, "GET", "/api/v1/customers/"+ext+"/portal_url", nil)
		cust, _ := body["customer"].(map[string]any)
		portal, _ := cust["portal_url"].(string)
		if code != 200 || len(cust) != 1 || !strings.HasPrefix(portal, s.URL+"/portal/") || len(portal) < len(s.URL+"/portal/")+43 {
			t.Fatalf("portal_url: %d %v", code, body)
		}

		b.navigate(portal)
		b.waitFor(portal, "No payment method on file")
		text := b.eval("document.body.innerText")
		title := strings.ToUpper(p.provider[:1]) + p.provider[1:]
		for _, want := range []string{"Gavin Belson", title, "Synced", "Add a payment method"} {
			if !strings.Contains(text, want) {
				t.Fatalf("the portal page lacks %q:\n%s", want, text)
			}
		}
		if p.provider == "stripe" {
			shot := filepath.Join(t.TempDir(), "portal.png")
			if dir := os.Getenv("PAYSYNC_TEST_SCREENSHOT_DIR"); dir != "" {
				shot = filepath.Join(dir, "portal.png")
			}
			b.screenshot(shot)
			t.Logf("screenshot of the portal: %s", shot)
		}

		b.click("#setup")
		b.waitFor(s.URL+p.setupPage, "")
		b.click(p.button)
		b.waitFor(portal, "Payment method on file")
		if text := b.eval("document.body.innerText"); strings.Contains(text, "No payment method") {
			t.Fatalf("after setup:\n%s", text)
		}
		if p.provider == "braintree" {
			if dir := os.Getenv("PAYSYNC_TEST_SCREENSHOT_DIR"); dir != "" {
				b.screenshot(filepath.Join(dir, "portal-after.png"))
			}
		}
		eventually(t, 10*time.Second, "has_payment_method true in the API", func() bool {
			_, body := s.do(t, "GET", "/api/v1/customers/"+ext, nil)
			return billing(t, body)["has_payment_method"] == true
		})
	}
}
