package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paysync/paysync/config"
)

// --help answers 0 on stdout with the command's flags and environment
// variables, and does nothing else (migrate --help migrates nothing).
func TestHelpOnEveryCommand(t *testing.T) {
	var all []string
	for _, v := range config.Vars {
		all = append(all, v.Name)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, append([]string{"serve", "migrate", "apikey create", "apikey revoke", "resync", "import", "sync-run", "healthcheck", "version"}, all...)},
		{[]string{"-h"}, []string{"serve", "version"}},
		{[]string{"help"}, []string{"serve", "version"}},
		{[]string{"serve", "--help"}, append([]string{"-role"}, all...)},
		{[]string{"serve", "-h"}, append([]string{"-role"}, all...)},
		{[]string{"migrate", "--help"}, []string{"up", "status", "DATABASE_URL"}},
		{[]string{"migrate", "status", "--help"}, []string{"DATABASE_URL"}},
		{[]string{"apikey", "--help"}, []string{"apikey create", "apikey revoke"}},
		{[]string{"apikey", "create", "--help"}, []string{"-org", "-create-org", "DATABASE_URL"}},
		{[]string{"apikey", "revoke", "--help"}, []string{"standard input", "DATABASE_URL"}},
		{[]string{"resync", "--help"}, append([]string{"-org", "-external-id", "-sync"}, all...)},
		{[]string{"healthcheck", "--help"}, []string{"-url", "-timeout", "PAYSYNC_ADDR"}},
		{[]string{"version", "--help"}, []string{"Environment: none"}},
	}
	db := filepath.Join(t.TempDir(), "paysync.db")
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runBinary(t, map[string]string{"DATABASE_URL": db}, tc.args...)
			if code != 0 || stderr != "" {
				t.Errorf("exit %d, stderr %q", code, stderr)
			}
			if !strings.HasPrefix(stdout, "usage: paysync") || !strings.Contains(stdout, "Environment:") {
				t.Errorf("not a usage with its environment:\n%s", stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("help does not list %q:\n%s", w, stdout)
				}
			}
		})
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("--help touched the database: %v", err)
	}
}

// A command line paysync does not understand exits 2 with the usage.
func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{}, {"nope"}, {"serve", "--bogus"}, {"serve", "--role=boss"}, {"serve", "extra"},
		{"migrate", "sideways"}, {"migrate", "up", "twice"}, {"apikey"}, {"apikey", "frobnicate"},
		{"apikey", "create", "--org"}, {"resync"}, {"version", "extra"}, {"healthcheck", "--timeout=soon"},
		{"import"}, {"import", "--connection=stripe", "--progress=fancy"}, {"import", "--connection=stripe", "--match=phone"},
		{"sync-run"}, {"sync-run", "--mode=resync", "extra"}, {"sync-run", "--mode=everything"}, {"sync-run", "--mode=import"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := runBinary(t, map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "x.db")}, args...)
			if code != 2 || !strings.Contains(stderr, "usage: paysync") || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", code, stdout, stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := runBinary(t, nil, "version")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "paysync ") || !strings.Contains(stdout, runtime.Version()) {
		t.Errorf("version: exit %d, %q, %q", code, stdout, stderr)
	}
	rev := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		info *debug.BuildInfo
		want string
	}{
		{nil, "paysync (unknown version: built without module information)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "paysync (devel) (revision unknown) go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-12-05T07:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, "paysync v1.2.0 (revision 0123456789ab+dirty, 2026-12-05T07:00:00Z) go1.26.8"},
	} {
		if got := versionLine(tc.info); got != tc.want {
			t.Errorf("versionLine: %q, want %q", got, tc.want)
		}
	}
}

// migrate status lists the pending migrations without applying them, and
// the applied ones after migrate.
func TestMigrateUpAndStatus(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		env := b.env(t)
		getenv := func(k string) string { return env[k] }
		status := func() string {
			var out bytes.Buffer
			if err := run(context.Background(), []string{"migrate", "status"}, getenv, nil, &out, &bytes.Buffer{}); err != nil {
				t.Fatalf("migrate status: %v", err)
			}
			return out.String()
		}
		before := status()
		if !strings.Contains(before, "pending  0001_init.sql") || !strings.Contains(before, "\n0 applied,") || strings.Contains(before, "applied  ") {
			t.Errorf("status of a new database:\n%s", before)
		}
		if status() != before {
			t.Error("migrate status changed the database")
		}
		if err := run(context.Background(), []string{"migrate", "up"}, getenv, nil, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Fatalf("migrate up: %v", err)
		}
		after := status()
		if !strings.Contains(after, "applied  0001_init.sql  20") || !strings.Contains(after, ", 0 pending") || strings.Contains(after, "pending  ") {
			t.Errorf("status after migrate:\n%s", after)
		}
	})
}

// apikey create refuses an organization that does not exist, unless
// --create-org: a typo must not create a tenant.
func TestAPIKeyCreateRefusesUnknownOrganization(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		env := b.env(t)
		getenv := func(k string) string { return env[k] }
		create := func(args ...string) (string, error) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"apikey", "create"}, args...), getenv, nil, &out, &bytes.Buffer{})
			return out.String(), err
		}
		if out, err := create("--org", "typo"); err == nil || !strings.Contains(err.Error(), `no organization "typo"`) ||
			!strings.Contains(err.Error(), "--create-org") || out != "" {
			t.Fatalf("unknown organization: %q, %v", out, err)
		}
		if out, err := create("--org", "typo", "--create-org"); err != nil || !strings.HasPrefix(out, "ps_") {
			t.Fatalf("--create-org: %q, %v", out, err)
		}
		if out, err := create("--org=typo"); err != nil || !strings.HasPrefix(out, "ps_") {
			t.Fatalf("an existing organization: %q, %v", out, err)
		}
		if out, err := create(); err != nil || !strings.HasPrefix(out, "ps_") {
			t.Fatalf("the default organization: %q, %v", out, err)
		}
	})
}

func TestHealthcheck(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(hs.Close)
	code, _, stderr := runBinary(t, nil, "healthcheck", "--url", hs.URL+"/healthz")
	if code != 0 || stderr != "" {
		t.Errorf("healthy: exit %d, %q", code, stderr)
	}
	// The default URL is /healthz on PAYSYNC_ADDR's port.
	code, _, stderr = runBinary(t, map[string]string{"PAYSYNC_ADDR": strings.TrimPrefix(hs.URL, "http://127.0.0.1")}, "healthcheck")
	if code != 0 || stderr != "" {
		t.Errorf("default URL: exit %d, %q", code, stderr)
	}
	status.Store(http.StatusServiceUnavailable)
	code, _, stderr = runBinary(t, nil, "healthcheck", "--url", hs.URL+"/healthz")
	if code != 1 || !strings.Contains(stderr, "503") {
		t.Errorf("unhealthy: exit %d, %q", code, stderr)
	}
	hs.Close()
	code, _, stderr = runBinary(t, nil, "healthcheck", "--url", hs.URL+"/healthz")
	if code != 1 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("down: exit %d, %q", code, stderr)
	}
}
