package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

// With its PostgreSQL cluster stopped under it, paysync serve answers every
// route that needs the database 503 with Retry-After, in the dialect's
// error shape, and logs each failure once naming the database; once the
// cluster is back, requests succeed and nothing stored is lost.
func TestDatabaseDownAnswers503(t *testing.T) {
	pg := startOwnPostgres(t)
	env := merge(baseEnv(t), map[string]string{
		"DATABASE_URL":       pg.url,
		"REDIS_URL":          testenv.RedisURL(),
		"PAYSYNC_LOG_FORMAT": "json",
	})
	log := &lockedBuffer{}
	srv := exec.Command(binary(t), "serve")
	srv.Env = append(os.Environ(), envList(env)...)
	srv.Stdout, srv.Stderr = log, log
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("paysync log:\n%s", log.String())
		}
	})
	base := "http://" + env["PAYSYNC_ADDR"]
	testenv.WaitHTTP(t, base+"/healthz", 60*time.Second)
	s := &server{URL: base, Key: testKey}

	// One customer per dialect while the database is up.
	lago := map[string]string{"Authorization": "Bearer " + testKey}
	lotus := map[string]string{"Authorization": "Token " + testKey}
	flex := map[string]string{"x-api-key": testKey}
	if r := send(t, "POST", base+"/api/v1/customers", lago, `{"customer":{"external_id":"down-lago","name":"Lago One"}}`); r.status != 200 {
		t.Fatalf("lago create: %d %s", r.status, r.body)
	}
	if r := send(t, "POST", base+"/api/customers/", lotus, `{"customer_id":"down-lotus","customer_name":"Lotus One","email":"one@lotus.test"}`); r.status != 201 {
		t.Fatalf("lotus create: %d %s", r.status, r.body)
	}
	if r := send(t, "POST", base+"/v1/customers", flex, `{"external_id":"down-flex","name":"Flex One"}`); r.status != 201 {
		t.Fatalf("flexprice create: %d %s", r.status, r.body)
	}

	pg.ctl(t, "stop", "-m", "immediate", "-w")

	type call struct {
		name, method, path string
		header             map[string]string
		body               string
		shape              func(body []byte) error
	}
	lagoShape := func(b []byte) error {
		var e struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
			Code   string `json:"code"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Status != 503 || e.Error != "Service Unavailable" || e.Code != "service_unavailable" {
			return fmt.Errorf("not Lago's 503 (%v)", err)
		}
		return nil
	}
	lotusShape := func(b []byte) error {
		var e struct{ Type, Title, Detail string }
		if err := json.Unmarshal(b, &e); err != nil || e.Title != "service_unavailable" || !strings.HasSuffix(e.Type, "server-error") || e.Detail == "" {
			return fmt.Errorf("not Lotus's 503 problem (%v)", err)
		}
		return nil
	}
	flexShape := func(b []byte) error {
		var e struct {
			Code           string `json:"code"`
			Message        string `json:"message"`
			HTTPStatusCode int    `json:"http_status_code"`
			Success        *bool  `json:"success"`
			Error          struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Code != "service_unavailable" || e.HTTPStatusCode != 503 ||
			e.Success == nil || *e.Success || e.Message == "" || e.Error.Message != e.Message {
			return fmt.Errorf("not Flexprice's 503 (%v)", err)
		}
		return nil
	}
	calls := []call{
		{"lago create", "POST", "/api/v1/customers", lago, `{"customer":{"external_id":"down-lago-2","name":"Lago Two"}}`, lagoShape},
		{"lago get", "GET", "/api/v1/customers/down-lago", lago, "", lagoShape},
		{"lago list", "GET", "/api/v1/customers", lago, "", lagoShape},
		{"lago resync", "POST", "/api/v1/customers/down-lago/resync", lago, "", lagoShape},
		{"lago webhook endpoints", "GET", "/api/v1/webhook_endpoints", lago, "", lagoShape},
		{"lago sync runs", "GET", "/api/v1/sync_runs", lago, "", lagoShape},
		{"lago sync run", "GET", "/api/v1/sync_runs/0190d5a4-0000-7000-8000-000000000000", lago, "", lagoShape},
		{"lotus create", "POST", "/api/customers/", lotus, `{"customer_id":"down-lotus-2","customer_name":"Lotus Two","email":"two@lotus.test"}`, lotusShape},
		{"lotus get", "GET", "/api/customers/down-lotus/", lotus, "", lotusShape},
		{"flexprice create", "POST", "/v1/customers", flex, `{"external_id":"down-flex-2","name":"Flex Two"}`, flexShape},
		{"flexprice list", "GET", "/v1/customers", flex, "", flexShape},
	}
	ids := map[string]string{} // request id -> call name
	for _, c := range calls {
		r := send(t, c.method, base+c.path, c.header, c.body)
		if r.status != 503 {
			t.Errorf("%s with the database down: %d %s", c.name, r.status, r.body)
			continue
		}
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n <= 0 {
			t.Errorf("%s: Retry-After %q, want a positive number of seconds", c.name, r.header.Get("Retry-After"))
		}
		if err := c.shape(r.body); err != nil {
			t.Errorf("%s: %v: %s", c.name, err, r.body)
		}
		id := r.header.Get("X-Request-Id")
		if id == "" {
			t.Fatalf("%s: no X-Request-Id", c.name)
		}
		ids[id] = c.name
	}

	// Each failed request is on exactly one log line: its request line,
	// which names the database and carries no request data. That line is
	// written once the answer is sent: wait for the last one.
	logged := func(id string) bool { return strings.Contains(log.String(), `"request_id":"`+id+`"`) }
	for id := range ids {
		eventually(t, 5*time.Second, "the request line of "+ids[id], func() bool { return logged(id) })
	}
	lines := map[string][]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(log.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if id, ok := rec["request_id"].(string); ok {
			if _, mine := ids[id]; mine {
				lines[id] = append(lines[id], rec)
			}
		}
		for _, secret := range []string{testKey, "down-lago-2", "Lotus Two", "Flex Two"} {
			if strings.Contains(sc.Text(), secret) {
				t.Errorf("log line carries request data %q: %s", secret, sc.Text())
			}
		}
	}
	for id, name := range ids {
		recs := lines[id]
		if len(recs) != 1 {
			t.Errorf("%s: %d log lines for request %s, want 1: %v", name, len(recs), id, recs)
			continue
		}
		rec := recs[0]
		if name == "lago create" {
			t.Logf("lago create with the database down, its one log line: %v", rec)
		}
		if rec["level"] != "ERROR" && rec["level"] != "WARN" {
			t.Errorf("%s: logged at %v", name, rec["level"])
		}
		if rec["dependency"] != "database" || fmt.Sprint(rec["status"]) != "503" || rec["err"] == nil {
			t.Errorf("%s: log line does not name the database, the status and the error: %v", name, rec)
		}
	}

	// The cluster back: requests succeed again and every customer is there.
	pg.ctl(t, "start", "-w", "-l", filepath.Join(pg.dir, "log"), "-o", pg.opts)
	eventually(t, 30*time.Second, "a create to succeed after the database is back", func() bool {
		return send(t, "POST", base+"/api/v1/customers", lago, `{"customer":{"external_id":"up-again","name":"Back"}}`).status == 200
	})
	for _, ext := range []string{"down-lago", "down-lotus", "down-flex", "up-again"} {
		if code, body := s.do(t, "GET", "/api/v1/customers/"+ext, nil); code != 200 {
			t.Errorf("%s after the restart: %d %v", ext, code, body)
		}
	}
	if r := send(t, "GET", base+"/api/customers/down-lotus/", lotus, ""); r.status != 200 {
		t.Errorf("lotus get after the restart: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", base+"/v1/customers/external/down-flex", flex, ""); r.status != 200 {
		t.Errorf("flexprice get after the restart: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", base+"/api/v1/sync_runs", lago, ""); r.status != 200 {
		t.Errorf("sync runs after the restart: %d %s", r.status, r.body)
	}
	for _, ext := range []string{"down-lago-2", "down-lotus-2", "down-flex-2"} {
		if code, _ := s.do(t, "GET", "/api/v1/customers/"+ext, nil); code != 404 {
			t.Errorf("%s was answered 503 yet is stored: %d", ext, code)
		}
	}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func send(t *testing.T, method, url string, header map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// ownPostgres is a PostgreSQL cluster of the test's own, which it can stop
// and start again with pg_ctl.
type ownPostgres struct {
	dir, data, opts, url string
	bin                  string // directory of initdb and pg_ctl
	cred                 *syscall.Credential
}

func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	bin := postgresBin(t)
	dir, err := os.MkdirTemp("", "paysync-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg := &ownPostgres{dir: dir, data: filepath.Join(dir, "data"), bin: bin}
	// PostgreSQL refuses to run as root: run it as the postgres user then.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", pg.data, "-U", "postgres", "--auth=trust", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := testenv.FreePort(t)
	pg.opts = fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s", port, dir)
	pg.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	pg.ctl(t, "start", "-w", "-l", filepath.Join(dir, "log"), "-o", pg.opts)
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "stop", "-D", pg.data, "-m", "immediate", "-w")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
		_ = cmd.Run() // already stopped when the test failed half-way
	})
	return pg
}

// ctl runs pg_ctl on the cluster.
func (pg *ownPostgres) ctl(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(pg.bin, "pg_ctl"), append([]string{args[0], "-D", pg.data}, args[1:]...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred, Setpgid: true}
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "log"))
		t.Fatalf("pg_ctl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, log)
	}
}

// postgresBin is the directory of initdb and pg_ctl: the PATH's, else the
// newest under /usr/lib/postgresql.
func postgresBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	t.Fatal("this test starts a PostgreSQL cluster of its own: install PostgreSQL's server binaries (initdb, pg_ctl) on the PATH or under /usr/lib/postgresql/*/bin")
	return ""
}
