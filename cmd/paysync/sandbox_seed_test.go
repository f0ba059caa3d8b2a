package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/sandbox/adyenemu"
	"github.com/paysync/paysync/sandbox/braintreeemu"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// paysync sandbox seed posts to the emulators where a serving paysync
// mounts them, and reports their refusals as usage errors.
func TestSandboxSeed(t *testing.T) {
	stripe := stripeemu.New()
	mux := http.NewServeMux()
	for name, h := range map[string]http.Handler{"stripe": stripe, "adyen": adyenemu.New(), "braintree": braintreeemu.New()} {
		mux.Handle("/sandbox/"+name+"/", http.StripPrefix("/sandbox/"+name, h))
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	getenv := func(k string) string {
		if k == "PAYSYNC_URL" {
			return srv.URL
		}
		return ""
	}
	run := func(args ...string) (string, error) {
		var stdout, stderr strings.Builder
		err := sandboxCmd(context.Background(), args, getenv, &stdout, &stderr)
		return stdout.String(), err
	}

	out, err := run("seed", "--provider=stripe", "--count=3", "--external-id-prefix=ext-", "--metadata=source=legacy,tier=gold")
	if err != nil || !strings.HasPrefix(out, "seeded 3 stripe customers, numbers 00001 to 00003; the first ids: cus_") {
		t.Fatalf("seed: %q %v", out, err)
	}
	id := strings.TrimSpace(strings.Split(strings.SplitAfter(out, "ids: ")[1], ",")[0])
	c, ok := stripe.Customer(id)
	if !ok || c.Email != "customer-00001@example.test" || c.Metadata["external_id"] != "ext-00001" || c.Metadata["tier"] != "gold" {
		t.Errorf("seeded customer %s: %+v", id, c)
	}

	var usage *usageError
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"seed", "--count=3"}, "--provider is required"},
		{[]string{"seed", "--provider=adyen"}, "Adyen has no customer object"},
		{[]string{"seed", "--provider=braintree", "--external-id-prefix=ext-"}, "Braintree customers have no metadata"},
		{[]string{"seed", "--provider=stripe", "--count=0"}, "count: must be between 1 and 100000"},
		{[]string{"seed", "--provider=paypal"}, "no such emulator"},
		{[]string{"seed", "--provider=stripe", "--metadata=oops"}, `"oops" is not key=value`},
		{[]string{"grow"}, `unknown subcommand "grow"`},
	} {
		if _, err := run(tc.args...); !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
	if _, err := run(); !errors.As(err, &usage) || !strings.Contains(err.Error(), "no subcommand") {
		t.Errorf("no subcommand: %v", err)
	}
	for args, want := range map[string]string{"seed --help": "--external-id-prefix", "--help": "seed", "seed -h": "PAYSYNC_URL"} {
		out, err := run(strings.Fields(args)...)
		if !errors.Is(err, errHelp) || !strings.HasPrefix(out, "usage: paysync sandbox") || !strings.Contains(out, want) {
			t.Errorf("%s: %v\n%s", args, err, out)
		}
	}
}

// A new user's session in embedded sandbox mode: paysync customers with
// external ids, Stripe customers seeded to match them by external id and
// Braintree customers seeded to match others by email; imports link each
// and create nothing at the providers, and the seeds survive a restart.
func TestSandboxSeedThenImport(t *testing.T) {
	env := merge(baseEnv(t), backends[1].env(t)) // SQLite and the embedded Redis
	s := startServer(t, env)
	for i := 1; i <= 3; i++ {
		for _, c := range [][2]string{{fmt.Sprintf("ext-%05d", i), "other-%d@example.test"}, {fmt.Sprintf("bt-%d", i), "customer-%05d@bt.test"}} {
			code, body := s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
				"external_id": c[0], "name": c[0], "email": fmt.Sprintf(c[1], i), "billing_configuration": map[string]any{"sync_with_provider": false}}})
			if code != 200 {
				t.Fatalf("create %s: %d %v", c[0], code, body)
			}
		}
	}
	getenv := func(k string) string {
		if k == "PAYSYNC_URL" {
			return s.URL
		}
		return ""
	}
	var out strings.Builder
	for _, args := range [][]string{
		{"seed", "--provider=stripe", "--count=5", "--external-id-prefix=ext-"},
		{"seed", "--provider=braintree", "--count=4", "--email-domain=bt.test"},
	} {
		if err := sandboxCmd(context.Background(), args, getenv, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	t.Log(out.String())
	if n := stripeCustomerCount(t, s); n != 5 {
		t.Fatalf("%d Stripe customers after the seed, want 5", n)
	}

	// The emulators keep what was seeded across a restart of paysync.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, env)
	before := stripeCustomerCount(t, s)
	for provider, want := range map[string]string{"stripe": "map[linked:3 unmatched:2]", "braintree": "map[linked:3 unmatched:1]"} {
		code, body := s.do(t, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": map[string]any{
			"mode": "import", "filter": map[string]any{"provider": provider}}})
		if code != 200 {
			t.Fatalf("start the %s import: %d %v", provider, code, body)
		}
		run := s.waitRun(t, body["sync_run"].(map[string]any)["id"].(string), "done", 60*time.Second)
		if got := fmt.Sprint(run["summary"]); got != want {
			t.Errorf("%s import summary: %s, want %s", provider, got, want)
		}
	}
	for _, ext := range []string{"ext-00002", "bt-2"} {
		_, c := s.do(t, "GET", "/api/v1/customers/"+ext, nil)
		if bc := billing(t, c); bc["provider_sync_status"] != "synced" || bc["provider_customer_id"] == nil {
			t.Errorf("%s after the imports: %v", ext, bc)
		}
	}
	if after := stripeCustomerCount(t, s); after != before {
		t.Errorf("the import created Stripe customers: %d -> %d", before, after)
	}
}
