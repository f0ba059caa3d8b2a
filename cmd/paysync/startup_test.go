package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
)

// runBinary runs the built paysync with env only (no inherited variables)
// and returns its exit code, stdout and stderr.
func runBinary(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(envList(env), "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("paysync %v did not exit within 60s\nstderr: %s", args, stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// Every configuration or connection failure at start-up exits 1 with one
// line naming what failed and the field or URL, never a panic, never a
// password.
func TestStartupFailuresExitWithOneLine(t *testing.T) {
	const password = "s3cret-pw-4711"
	closed := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	emptyCredentials := writeConfig(t, `
organizations:
  - name: default
    connections:
      - provider: stripe
        code: live
        credentials: {}
`)
	cases := []struct {
		name string
		env  func(t *testing.T) map[string]string
		want []string // substrings of the one line
	}{
		{"database unreachable", func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": "postgres://paysync:" + password + "@" + closed + "/paysync?sslmode=disable"}
		}, []string{"DATABASE_URL postgres://paysync:xxxxx@" + closed + "/paysync", "connection refused"}},
		{"wrong database password", func(t *testing.T) map[string]string {
			addr := startPasswordPostgres(t, "right-password")
			return map[string]string{"DATABASE_URL": "postgres://paysync:" + password + "@" + addr + "/postgres?sslmode=disable"}
		}, []string{"DATABASE_URL postgres://paysync:xxxxx@", "password authentication failed"}},
		{"credentials: {}", func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "paysync.db"), "REDIS_URL": testenv.RedisURL(),
				"PAYSYNC_CONFIG": emptyCredentials}
		}, []string{"PAYSYNC_CONFIG", "stripe/live", "credentials.secret_key is required"}},
		{"unwritable SQLite path", func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": filepath.Join(notADir, "paysync.db")}
		}, []string{"DATABASE_URL " + filepath.Join(notADir, "paysync.db"), "unable to open database file"}},
		{"redis unreachable", func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "paysync.db"),
				"REDIS_URL": "redis://:" + password + "@" + closed + "/0"}
		}, []string{"REDIS_URL redis://:xxxxx@" + closed + "/0", "connection refused"}},
		{"metrics port taken", func(t *testing.T) map[string]string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "paysync.db"), "PAYSYNC_METRICS_ADDR": ln.Addr().String()}
		}, []string{"PAYSYNC_METRICS_ADDR", "address already in use"}},
		{"bad configuration value", func(t *testing.T) map[string]string {
			return map[string]string{"PAYSYNC_CONCURRENCY": "-1"}
		}, []string{"PAYSYNC_CONCURRENCY"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := merge(baseEnv(t), tc.env(t))
			code, stdout, stderr := runBinary(t, env, "serve")
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "paysync: ") {
				t.Errorf("stderr is not one paysync: line:\n%s", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not name %q", stderr, w)
				}
			}
			for _, bad := range []string{"panic", "goroutine", password} {
				if strings.Contains(stdout+stderr, bad) {
					t.Errorf("output contains %q:\n%s%s", bad, stdout, stderr)
				}
			}
		})
	}
}

// startPasswordPostgres starts a PostgreSQL cluster of its own that
// requires a password (the shared test server trusts everyone), with a
// role paysync whose password is password, and returns its address.
func startPasswordPostgres(t *testing.T, password string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "paysync-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: run it as the postgres user then.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command("initdb", "-D", data, "-U", "paysync", "--auth=scram-sha-256", "--pwfile="+pw, "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := testenv.FreePort(t)
	pg := exec.Command("postgres", "-D", data, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1", "-k", dir)
	pg.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	var log bytes.Buffer
	pg.Stdout, pg.Stderr = &log, &log
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pg.Process.Signal(syscall.SIGINT) // fast shutdown
		_ = pg.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Accepting connections, not only listening: before recovery ends it
	// answers "the database system is starting up".
	eventually(t, 30*time.Second, "the PostgreSQL cluster to accept connections", func() bool {
		return exec.Command("pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port)).Run() == nil
	})
	return addr
}
