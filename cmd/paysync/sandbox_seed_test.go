package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
	if out, err := run("seed", "--help"); !errors.Is(err, errHelp) || !strings.Contains(out, "--external-id-prefix") {
		t.Errorf("--help: %v\n%s", err, out)
	}
}
