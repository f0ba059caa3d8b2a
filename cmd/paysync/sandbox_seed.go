package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/paysync/paysync/config"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// sandboxVars are what the sandbox commands read: they call the emulators
// of a serving paysync in sandbox mode, which need no API key.
var sandboxVars = []config.Var{clientVars[0]}

const sandboxAbout = "Works on the provider emulators of a serving paysync in sandbox mode.\n\n" +
	"Commands:\n  seed    create N numbered provider customers, for an import to adopt"

// sandboxCmd is paysync sandbox SUBCOMMAND.
func sandboxCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "seed" {
		return sandboxSeed(ctx, args[1:], getenv, stdout)
	}
	c := newCommand("sandbox", "sandbox seed [flags]", sandboxAbout, sandboxVars)
	if err := c.parse(args, 1, stdout); err != nil {
		return err
	}
	if c.fs.NArg() == 0 {
		return &usageError{"paysync sandbox: no subcommand given\n" + c.usage()}
	}
	return &usageError{fmt.Sprintf("paysync sandbox: unknown subcommand %q\n%s", c.fs.Arg(0), c.usage())}
}

func sandboxSeed(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := newCommand("sandbox seed", "sandbox seed --provider=stripe|gocardless|braintree [--count=N] [--external-id-prefix=P] [flags]",
		"Creates N provider customers in the sandbox emulator of a serving paysync (POST\n"+
			"/sandbox/{provider}/_sandbox/seed), numbered after those it has: \"Customer 00042\",\n"+
			"customer-00042@example.test and, with --external-id-prefix=ext-, metadata external_id=ext-00042,\n"+
			"which an import matches to the paysync customer with external id ext-00042. They are kept\n"+
			"across restarts like any emulator object. Adyen has no customers; Braintree has no metadata.", sandboxVars)
	provider := c.fs.String("provider", "", "the emulator: stripe, gocardless or braintree (required)")
	count := c.fs.Int("count", 100, "how many customers, 1 to 100000")
	start := c.fs.Int("start", 0, "the number of the first customer (default: after those the emulator has)")
	domain := c.fs.String("email-domain", "example.test", "the domain of the customers' emails")
	prefix := c.fs.String("external-id-prefix", "", "write metadata external_id = prefix + the customer's number")
	meta := c.fs.String("metadata", "", "more metadata on every customer, as key=value,key=value")
	url := c.fs.String("url", "", "the serving paysync's base URL (default $PAYSYNC_URL)")
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	if *provider == "" {
		return &usageError{"paysync sandbox seed: --provider is required\n" + c.usage()}
	}
	req := map[string]any{"count": *count, "email_domain": *domain}
	if *start != 0 {
		req["start"] = *start
	}
	if *prefix != "" {
		req["external_id_prefix"] = *prefix
	}
	if *meta != "" {
		m := map[string]string{}
		for _, kv := range splitList(*meta) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return &usageError{fmt.Sprintf("paysync sandbox seed: --metadata: %q is not key=value", kv)}
			}
			m[k] = v
		}
		req["metadata"] = m
	}
	base := *url
	if base == "" {
		base = getenv("PAYSYNC_URL")
	}
	if base == "" {
		base = "http://localhost:8080"
	}
	var out struct {
		Created int      `json:"created"`
		First   int      `json:"first_number"`
		Last    int      `json:"last_number"`
		IDs     []string `json:"ids"`
	}
	if err := postSeed(ctx, strings.TrimRight(base, "/")+"/sandbox/"+*provider+"/_sandbox/seed", req, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d %s customers, numbers %05d to %05d; the first ids: %s\n",
		out.Created, *provider, out.First, out.Last, strings.Join(out.IDs, ", "))
	return nil
}

// postSeed sends the seed request; an answer refusing it (bad flags, a
// provider without customers) is a usage error.
func postSeed(ctx context.Context, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	// The Stripe emulator asks for a test key, as Stripe does; the others ignore it.
	req.Header.Set("Authorization", "Bearer "+stripeemu.SandboxKey)
	// 100,000 customers take a while to save.
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("sandbox seed: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("sandbox seed: %w", err)
	}
	if resp.StatusCode == http.StatusCreated {
		return json.Unmarshal(raw, out)
	}
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	switch {
	case resp.StatusCode == http.StatusNotFound && e.Error.Message == "":
		return &usageError{fmt.Sprintf("paysync sandbox seed: %s answers 404: no such emulator (is paysync serving in sandbox mode, and is --provider one of stripe, gocardless, braintree?)", url)}
	case resp.StatusCode < 500 && e.Error.Message != "":
		return &usageError{"paysync sandbox seed: " + e.Error.Message}
	}
	return fmt.Errorf("sandbox seed: %s answers %d: %s", url, resp.StatusCode, strings.TrimSpace(string(raw)))
}
