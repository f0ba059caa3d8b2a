package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DatabaseURL != "paysync.db" || c.RedisURL != "" || c.Queue != "paysync" {
		t.Errorf("defaults: addr %q db %q redis %q queue %q", c.Addr, c.DatabaseURL, c.RedisURL, c.Queue)
	}
	if c.InlineTimeout != 10*time.Second || c.MaxRetry != 20 || c.Concurrency != 20 {
		t.Errorf("defaults: inline %s retry %d concurrency %d", c.InlineTimeout, c.MaxRetry, c.Concurrency)
	}
	if c.HasConnections() {
		t.Error("no file: no connections expected")
	}
	if c.BulkWindow != 256 || c.LiveShare != 0.2 {
		t.Errorf("defaults: bulk window %d live share %v", c.BulkWindow, c.LiveShare)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "paysync.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileWithEnvExpansion(t *testing.T) {
	path := writeFile(t, `
organizations:
  - name: acme
    api_keys: ["${ACME_KEY}"]
    connections:
      - provider: stripe
        code: stripe_eu
        credentials: {secret_key: "${STRIPE_KEY}"}
        base_url: http://127.0.0.1:12111
        rate_limit: 20
        sync_new_customers: true
      - provider: braintree
`)
	c, err := Load(env(map[string]string{"PAYSYNC_CONFIG": path, "ACME_KEY": "acme-key-0123456789", "STRIPE_KEY": "sk_test_x"}))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Organizations[0]
	if o.APIKeys[0] != "acme-key-0123456789" {
		t.Errorf("api key not expanded: %q", o.APIKeys[0])
	}
	conns := o.DomainConnections("org-1")
	if len(conns) != 2 || conns[0].Credentials["secret_key"] != "sk_test_x" || conns[0].RateLimit != 20 || !conns[0].SyncNewCustomers || conns[0].OrganizationID != "org-1" {
		t.Errorf("connections: %+v", conns)
	}
	if conns[1].Code != "braintree" {
		t.Errorf("a connection without code takes the provider name, got %q", conns[1].Code)
	}
	if !c.HasConnections() {
		t.Error("HasConnections is false")
	}
}

// Every bad setting stops start-up with a message naming the field.
func TestBadConfigNamesTheField(t *testing.T) {
	cases := []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"duration", "", map[string]string{"PAYSYNC_INLINE_TIMEOUT": "soon"}, "PAYSYNC_INLINE_TIMEOUT"},
		{"count", "", map[string]string{"PAYSYNC_CONCURRENCY": "0"}, "PAYSYNC_CONCURRENCY"},
		{"live share", "", map[string]string{"PAYSYNC_LIVE_SHARE": "1"}, "PAYSYNC_LIVE_SHARE"},
		{"live share nan", "", map[string]string{"PAYSYNC_LIVE_SHARE": "NaN"}, "PAYSYNC_LIVE_SHARE"},
		{"log format", "", map[string]string{"PAYSYNC_LOG_FORMAT": "xml"}, "PAYSYNC_LOG_FORMAT"},
		{"redis url", "", map[string]string{"REDIS_URL": "localhost"}, "REDIS_URL"},
		{"provider", "organizations: [{name: a, connections: [{provider: paypal}]}]", nil, "organizations[0].connections[0].provider"},
		{"code", "organizations: [{name: a, connections: [{provider: stripe, code: 'a b'}]}]", nil, "organizations[0].connections[0].code"},
		{"duplicate code", "organizations: [{name: a, connections: [{provider: stripe}, {provider: stripe}]}]", nil, "organizations[0].connections[1].code"},
		{"missing env", "organizations: [{name: a, connections: [{provider: stripe, credentials: {secret_key: '${NOPE}'}}]}]", nil, "organizations[0].connections[0].credentials.secret_key: environment variable NOPE"},
		{"base url", "organizations: [{name: a, connections: [{provider: stripe, base_url: 'ftp://x'}]}]", nil, "organizations[0].connections[0].base_url"},
		{"rate limit", "organizations: [{name: a, connections: [{provider: stripe, rate_limit: -1}]}]", nil, "organizations[0].connections[0].rate_limit"},
		{"org name", "organizations: [{api_keys: []}]", nil, "organizations[0].name"},
		{"duplicate org", "organizations: [{name: a}, {name: a}]", nil, "organizations[1].name"},
		{"short key", "organizations: [{name: a, api_keys: [short]}]", nil, "organizations[0].api_keys[0]"},
		{"unknown field", "organisations: []", nil, "organisations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range tc.env {
				e[k] = v
			}
			if tc.file != "" {
				e["PAYSYNC_CONFIG"] = writeFile(t, tc.file)
			}
			_, err := Load(env(e))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q should be one line naming %q", err, tc.want)
			}
		})
	}
}

func TestConnectionTimeout(t *testing.T) {
	conn := func(timeout string) string {
		return writeFile(t, "organizations:\n  - name: default\n    connections:\n      - provider: stripe\n        credentials: {secret_key: sk_test_x}\n"+timeout)
	}
	c, err := Load(env(map[string]string{"PAYSYNC_CONFIG": conn("        timeout: 250ms\n")}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Organizations[0].DomainConnections("o")[0].Timeout; got != 250*time.Millisecond {
		t.Errorf("timeout: %s", got)
	}
	c, err = Load(env(map[string]string{"PAYSYNC_CONFIG": conn("")}))
	if err != nil || c.Organizations[0].DomainConnections("o")[0].Timeout != 0 {
		t.Errorf("no timeout must leave the registry's default: %v", err)
	}
	for _, bad := range []string{"0s", "-1s", "10", "soon"} {
		_, err := Load(env(map[string]string{"PAYSYNC_CONFIG": conn("        timeout: " + bad + "\n")}))
		if err == nil || !strings.Contains(err.Error(), "organizations[0].connections[0].timeout") {
			t.Errorf("timeout %q: %v, want an error naming the field", bad, err)
		}
	}
}

// Every variable Load reads is in Vars, which the commands' --help lists.
func TestLoadReadsOnlyDocumentedVariables(t *testing.T) {
	documented := map[string]bool{}
	for _, v := range Vars {
		documented[v.Name] = true
	}
	read := map[string]bool{}
	if _, err := Load(func(k string) string { read[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	for k := range read {
		if !documented[k] {
			t.Errorf("Load reads %s, which config.Vars does not list for --help", k)
		}
	}
	for k := range documented {
		if !read[k] {
			t.Errorf("config.Vars lists %s, which Load does not read", k)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://paysync:pw@db:5432/paysync?sslmode=disable": "postgres://paysync:xxxxx@db:5432/paysync?sslmode=disable",
		"redis://:pw@redis:6379/0":                              "redis://:xxxxx@redis:6379/0",
		"/data/paysync.db":                                      "/data/paysync.db",
		"postgres://u:p%zz@h/db":                                "postgres://(unparsable URL)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
