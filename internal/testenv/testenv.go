// Package testenv gives tests the real peers they run against: PostgreSQL,
// Redis, stripe-mock, Prism and the providers' Node SDKs. It starts or
// installs what is missing and fails the test (never skips it) when a peer
// cannot be had.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// RepoRoot is the module's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir is ../shared beside the repository.
func SharedDir() string { return filepath.Join(RepoRoot(), "..", "shared") }

// Getenv returns the environment variable or def.
func Getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// PostgresAdminURL is the server the tests create their databases on.
func PostgresAdminURL() string {
	return Getenv("PAYSYNC_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// RedisURL is the Redis server the tests use.
func RedisURL() string { return Getenv("PAYSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0") }

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresURL creates an empty database for this test, dropped at cleanup.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", PostgresAdminURL())
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	name := RandomName("paysync_test_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("postgres at %s is required (the test script starts it): %v", PostgresAdminURL(), err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", PostgresAdminURL())
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return replaceDBName(PostgresAdminURL(), name)
}

func replaceDBName(url, name string) string {
	base, query, _ := strings.Cut(url, "?")
	i := strings.LastIndex(base, "/")
	out := base[:i+1] + name
	if query != "" {
		out += "?" + query
	}
	return out
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitHTTP polls url until it answers at all, or fails the test.
func WaitHTTP(t testing.TB, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s: %v", url, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartProcess runs a helper process for the test's lifetime, with its
// output in the test log on failure.
func StartProcess(t testing.TB, dir string, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return cmd
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// GoBin finds a Go-installed tool, installing pkg@version when missing.
func GoBin(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gobin := filepath.Join(goEnv("GOPATH"), "bin")
	if v := goEnv("GOBIN"); v != "" {
		gobin = v
	}
	p := filepath.Join(gobin, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	unlock := lockFile(t, filepath.Join(os.TempDir(), "paysync-goinstall.lock"))
	defer unlock()
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cmd := exec.Command("go", "install", pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s: %v\n%s", pkg, err, out)
	}
	return p
}

func goEnv(key string) string {
	out, _ := exec.Command("go", "env", key).Output()
	return strings.TrimSpace(string(out))
}

// StripeMock starts stripe-mock v0.183.0 and returns its HTTP base URL.
func StripeMock(t testing.TB) string {
	t.Helper()
	bin := GoBin(t, "stripe-mock", "github.com/stripe/stripe-mock@v0.183.0")
	port := FreePort(t)
	StartProcess(t, "", nil, bin, "-http-port", fmt.Sprint(port), "-https-port", fmt.Sprint(FreePort(t)))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	WaitHTTP(t, url+"/v1/customers", 60*time.Second)
	return url
}

// NodeModules returns test/sdk/node_modules, running npm install there
// first when it is missing or was installed from another package-lock.json.
func NodeModules(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(), "test", "sdk")
	mods := filepath.Join(dir, "node_modules")
	marker := filepath.Join(mods, ".paysync-installed")
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	installed := func() bool {
		got, err := os.ReadFile(marker)
		return err == nil && string(got) == want
	}
	if installed() {
		return mods
	}
	unlock := lockFile(t, filepath.Join(os.TempDir(), "paysync-npm.lock"))
	defer unlock()
	if installed() {
		return mods
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install in %s: %v\n%s", dir, err, out)
	}
	if err := os.WriteFile(marker, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	return mods
}

// Node runs a Node script from test/sdk with the SDKs installed, passing
// env, and returns its standard output.
func Node(t testing.TB, script string, env ...string) []byte {
	t.Helper()
	NodeModules(t)
	cmd := exec.Command("node", script)
	cmd.Dir = filepath.Join(RepoRoot(), "test", "sdk")
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\nstdout: %s\nstderr: %s", script, err, out, stderr.String())
	}
	return out
}

// Prism serves an OpenAPI file with Prism's mock server, validating every
// request against it, and returns the base URL.
func Prism(t testing.TB, spec string) string {
	t.Helper()
	mods := NodeModules(t)
	port := FreePort(t)
	StartProcess(t, "", nil, filepath.Join(mods, ".bin", "prism"), "mock", "--errors", "-h", "127.0.0.1", "-p", fmt.Sprint(port), spec)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	WaitHTTP(t, url, 90*time.Second)
	return url
}

func lockFile(t testing.TB, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// WaitTCP waits until addr accepts connections, or fails the test.
func WaitTCP(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept connections within %s: %v", addr, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
