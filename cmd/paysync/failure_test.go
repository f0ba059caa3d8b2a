package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/jobs"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

func doJSONForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer sk_test_sandbox")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func archivedTasks(t *testing.T, env map[string]string) []*asynq.TaskInfo {
	t.Helper()
	opt, err := asynq.ParseRedisURI(env["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	var tasks []*asynq.TaskInfo
	for _, queue := range (jobs.Options{Queue: env["PAYSYNC_QUEUE"]}).Queues() {
		archived, err := insp.ListArchivedTasks(queue)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatal(err)
		}
		tasks = append(tasks, archived...)
	}
	return tasks
}

// stripeConnection configures the default organization with one Stripe
// connection at baseURL.
func stripeConnection(t *testing.T, baseURL, key string) string {
	return writeConfig(t, fmt.Sprintf(`
organizations:
  - name: default
    connections:
      - provider: stripe
        code: stripe_test
        credentials: {secret_key: %q}
        base_url: %q
`, key, baseURL))
}

// Redis down at request time: the request still succeeds (the customer is
// committed as pending) and the reconciler syncs it once Redis is back.
func TestRedisDownAtRequestTime(t *testing.T) {
	redis := startRedis(t)
	env := merge(baseEnv(t), map[string]string{"DATABASE_URL": testenv.PostgresURL(t), "REDIS_URL": redis.url})
	s := startServer(t, env)

	redis.stop()
	code, body := s.do(t, "POST", "/api/v1/customers", seedCustomer("redis-down", false))
	if code != 200 || billing(t, body)["provider_sync_status"] != "pending" {
		t.Fatalf("create with Redis down: %d %v", code, body)
	}
	code, _ = doJSON(t, "GET", s.URL+"/readyz", "", nil)
	if code != 503 {
		t.Errorf("readyz with Redis down: %d", code)
	}
	time.Sleep(time.Second)
	redis.start()
	s.waitStatus(t, "redis-down", "synced", 60*time.Second)
}

// A worker killed (SIGKILL) after the provider created the customer but
// before paysync stored it: another worker finishes the task with the same
// idempotency key, and the provider ends up with exactly one customer.
func TestWorkerKilledMidTaskMakesOneCustomer(t *testing.T) {
	emu := stripeemu.New()
	// While hold is on, the emulator does the work, then holds its answer
	// for 1.5 s: the worker dies before it hears the customer was created.
	var hold atomic.Bool
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hold.Load() {
			emu.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, r)
		select {
		case <-time.After(1500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(hs.Close)

	env := merge(baseEnv(t), backends[0].env(t), map[string]string{
		"PAYSYNC_CONFIG":             stripeConnection(t, hs.URL, "sk_test_kill"),
		"PAYSYNC_RECONCILE_AFTER":    "1h", // only asynq's own recovery may bring the task back
		"PAYSYNC_RECONCILE_INTERVAL": "1h",
	})
	bin := binary(t)
	api := testenv.StartProcess(t, "", envList(env), bin, "serve", "--role=api")
	testenv.WaitHTTP(t, "http://"+env["PAYSYNC_ADDR"]+"/healthz", 60*time.Second)
	_ = api
	workerEnv := merge(env, map[string]string{"PAYSYNC_ADDR": "127.0.0.1:0", "PAYSYNC_METRICS_ADDR": "127.0.0.1:0"})
	worker := testenv.StartProcess(t, "", envList(workerEnv), bin, "serve", "--role=worker")

	hold.Store(true)
	s := &server{URL: "http://" + env["PAYSYNC_ADDR"], Key: testKey}
	s.do(t, "POST", "/api/v1/customers", seedCustomer("killed", false))
	eventually(t, 30*time.Second, "the provider customer to be created", func() bool { return emu.CustomerCount() == 1 })
	if err := syscall.Kill(-worker.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	_, body := s.do(t, "GET", "/api/v1/customers/killed", nil)
	if st := billing(t, body)["provider_sync_status"]; st != "pending" {
		t.Fatalf("after the kill the link should still be pending, got %v", st)
	}

	hold.Store(false)
	testenv.StartProcess(t, "", envList(workerEnv), bin, "serve", "--role=worker")
	// asynq hands a dead worker's task to another after its lease expires
	// and the recoverer runs: about a minute and a half.
	got := s.waitStatus(t, "killed", "synced", 4*time.Minute)
	if n := emu.CustomerCount(); n != 1 {
		t.Fatalf("stripe has %d customers after the crash, want exactly 1", n)
	}
	t.Logf("recovered: %v", billing(t, got)["provider_customer_id"])
}

// The Stripe adapter, wired through the whole service, against stripe-mock.
func TestStripeMockConnection(t *testing.T) {
	mock := testenv.StripeMock(t)
	env := merge(baseEnv(t), backends[0].env(t), map[string]string{
		"PAYSYNC_CONFIG": stripeConnection(t, mock, "sk_test_123"),
	})
	s := startServer(t, env)
	code, body := s.do(t, "POST", "/api/v1/customers", seedCustomer("stripe-mock", true))
	if code != 200 {
		t.Fatalf("create: %d %v", code, body)
	}
	bc := billing(t, body)
	if bc["provider_sync_status"] != "synced" || !strings.HasPrefix(fmt.Sprint(bc["provider_customer_id"]), "cus_") {
		t.Fatalf("stripe-mock sync: %v", bc)
	}
}

// A bad secret key is an authentication error: permanent, stored, not retried.
func TestBadCredentialsFailPermanently(t *testing.T) {
	emu := stripeemu.New()
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	env := merge(baseEnv(t), backends[1].env(t), map[string]string{"PAYSYNC_CONFIG": stripeConnection(t, hs.URL, "rk_bad")})
	s := startServer(t, env)
	_, body := s.do(t, "POST", "/api/v1/customers", seedCustomer("bad-key", true))
	if st := billing(t, body)["provider_sync_status"]; st != "failed" {
		t.Fatalf("bad key: status %v (%v)", st, body)
	}
	before := emu.Faults.Requests()
	time.Sleep(time.Second)
	if after := emu.Faults.Requests(); after != before {
		t.Errorf("a permanent failure was retried: %d more requests", after-before)
	}
}

// redisProcess is a Redis server of the test's own, to stop and restart.
type redisProcess struct {
	t   *testing.T
	url string
	cmd *exec.Cmd
	run func() *exec.Cmd
}

func startRedis(t *testing.T) *redisProcess {
	port := testenv.FreePort(t)
	r := &redisProcess{t: t, url: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}
	r.run = func() *exec.Cmd {
		cmd := testenv.StartProcess(t, t.TempDir(), nil, "redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		testenv.WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
		return cmd
	}
	r.start()
	return r
}

func (r *redisProcess) start() { r.cmd = r.run() }

func (r *redisProcess) stop() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	_ = r.cmd.Wait()
}
