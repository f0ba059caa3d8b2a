package main

import (
	"fmt"
	"strings"
	"testing"
)

// Issue 8's promise: the sandbox survives a restart of paysync serve. A
// customer synced before the restart resyncs after it, checkout_url still
// answers, the setup link made before the restart still completes, and the provider's signed webhook turns has_payment_method true.
func TestSandboxSurvivesARestart(t *testing.T) {
	// The scheduled refresh is pushed out of the way: only the webhook can flip the flag.
	env := merge(baseEnv(t), backends[1].env(t), map[string]string{"PAYSYNC_REFRESH_INTERVAL": "1h"})
	s := startServer(t, env)
	type before struct{ id, checkoutURL string }
	seen := map[string]before{}
	for _, p := range sandboxProviders {
		ext := "restart-" + p.name
		code, body := s.do(t, "POST", "/api/v1/customers", customerFor(p.name, ext, true))
		if code != 200 || billing(t, body)["provider_sync_status"] != "synced" {
			t.Fatalf("%s: create: %d %v", p.name, code, body)
		}
		b := before{id: fmt.Sprint(billing(t, body)["provider_customer_id"])}
		if p.name != "braintree" { // Braintree hosts no setup page
			code, body = s.do(t, "POST", "/api/v1/customers/"+ext+"/checkout_url", nil)
			b.checkoutURL, _ = body["customer"].(map[string]any)["checkout_url"].(string)
			if code != 200 || !strings.HasPrefix(b.checkoutURL, s.URL+"/sandbox/"+p.name+"/") {
				t.Fatalf("%s: checkout_url: %d %v", p.name, code, body)
			}
		}
		seen[p.name] = b
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	s = startServer(t, env) // the same SQLite file, new emulators, a new in-process Redis
	for _, p := range sandboxProviders {
		t.Run(p.name, func(t *testing.T) {
			ext, b := "restart-"+p.name, seen[p.name]
			code, body := s.do(t, "POST", "/api/v1/customers/"+ext+"/resync?sync=true", nil)
			bc := billing(t, body)
			if code != 200 || bc["provider_sync_status"] != "synced" || fmt.Sprint(bc["provider_customer_id"]) != b.id || bc["has_payment_method"] != false {
				t.Fatalf("resync after the restart: %d %v (provider customer was %s)", code, body, b.id)
			}
			if p.name == "braintree" {
				sandboxPost(t, s, "POST", p.attach(b.id)) // the sandbox's vault stands in for the end customer
			} else {
				// checkout_url makes a new link on every call, after the
				// restart as before it; the one made before still completes.
				code, body = s.do(t, "POST", "/api/v1/customers/"+ext+"/checkout_url", nil)
				url, _ := body["customer"].(map[string]any)["checkout_url"].(string)
				if code != 200 || !strings.HasPrefix(url, s.URL+"/sandbox/"+p.name+"/") || url == b.checkoutURL {
					t.Errorf("checkout_url after the restart: %d %v (before: %s)", code, body, b.checkoutURL)
				}
				completeSetupPage(t, b.checkoutURL)
			}
			s.waitHasPaymentMethod(t, ext, true)
			code, body = s.do(t, "POST", "/api/v1/customers/"+ext+"/resync?sync=true", nil)
			if code != 200 || billing(t, body)["has_payment_method"] != true {
				t.Errorf("resync after setup: %d %v", code, body)
			}
		})
	}
}
