package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paysync/paysync/config"
	"github.com/paysync/paysync/internal/app"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// Connections of the provider scenarios, one Stripe emulator each.
const (
	connSlow   = "slow"   // 200 ms latency, capped at 100 req/s, rate_limit 100: (e), (f)
	connFast   = "fast"   // zero latency, no limit: (h)
	connImport = "import" // zero latency, seeded: (i)
)

// counted counts an emulator's API requests, and its 429s, as they reach it.
type counted struct {
	next     http.Handler
	requests atomic.Int64
	status   [600]atomic.Int64
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		c.next.ServeHTTP(w, r)
		return
	}
	c.requests.Add(1)
	sw := &statusWriter{ResponseWriter: w, status: 200}
	c.next.ServeHTTP(sw, r)
	if sw.status > 0 && sw.status < len(c.status) {
		c.status[sw.status].Add(1)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// emulator is one Stripe emulator served over HTTP behind a counter.
type emulator struct {
	emu *stripeemu.Emulator
	c   *counted
	srv *httptest.Server
}

func newEmulator() *emulator {
	e := &emulator{emu: stripeemu.New()}
	e.c = &counted{next: e.emu}
	e.srv = httptest.NewServer(e.c)
	return e
}

// farm is the set-up of the provider scenarios: its own scratch database
// and queue, three emulators, an API process (this one) and the
// environment of worker processes.
type farm struct {
	b       *bench
	db      *sql.DB
	a       *app.App
	api     *httptest.Server
	org     string
	queue   string
	env     map[string]string
	emus    map[string]*emulator
	cleanup []func()
}

func (b *bench) newFarm(ctx context.Context, dbURL, redisURL string, workers int) (*farm, error) {
	f := &farm{b: b, emus: map[string]*emulator{}}
	fdb, drop, err := scratchDatabase(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	f.cleanup = append(f.cleanup, drop)
	for _, code := range []string{connSlow, connFast, connImport} {
		e := newEmulator()
		f.emus[code] = e
		f.cleanup = append(f.cleanup, e.srv.Close)
	}
	dir, err := os.MkdirTemp("", "paysync-bench")
	if err != nil {
		f.close()
		return nil, err
	}
	f.cleanup = append(f.cleanup, func() { os.RemoveAll(dir) })
	yaml := fmt.Sprintf(`organizations:
  - name: %s
    connections:
      - {provider: stripe, code: %s, credentials: {secret_key: sk_test_bench}, base_url: %q, rate_limit: 100}
      - {provider: stripe, code: %s, credentials: {secret_key: sk_test_bench}, base_url: %q}
      - {provider: stripe, code: %s, credentials: {secret_key: sk_test_bench}, base_url: %q}
`, config.DefaultOrganization, connSlow, f.emus[connSlow].srv.URL, connFast, f.emus[connFast].srv.URL, connImport, f.emus[connImport].srv.URL)
	path := filepath.Join(dir, "paysync.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		f.close()
		return nil, err
	}
	// As long as the default queue name ("paysync"): Redis's bytes per task
	// count it in every key and task.
	f.queue = fmt.Sprintf("pb%05d", time.Now().UnixNano()/1000%100000)
	f.env = map[string]string{
		"DATABASE_URL": fdb, "REDIS_URL": redisURL, "PAYSYNC_QUEUE": f.queue, "PAYSYNC_CONFIG": path,
		"PAYSYNC_API_KEY": b.key, "PAYSYNC_CONCURRENCY": strconv.Itoa(workers), "PAYSYNC_ADDR": "127.0.0.1:0",
	}
	for _, k := range []string{"PAYSYNC_POLL_INTERVAL", "PAYSYNC_BULK_WINDOW", "PAYSYNC_LIVE_SHARE"} {
		if v := b.getenv(k); v != "" {
			f.env[k] = v
		}
	}
	cfg, err := config.Load(func(k string) string { return f.env[k] })
	if err != nil {
		f.close()
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if f.a, err = app.New(ctx, cfg, quiet, io.Discard); err != nil {
		f.close()
		return nil, err
	}
	f.cleanup = append(f.cleanup, func() { f.a.Close() })
	f.api = httptest.NewServer(f.a.Handler(nil))
	f.cleanup = append(f.cleanup, f.api.Close)
	org, err := f.a.DB.EnsureOrganization(ctx, config.DefaultOrganization)
	if err != nil {
		f.close()
		return nil, err
	}
	f.org = org.ID
	if f.db, err = sql.Open("pgx", fdb); err != nil {
		f.close()
		return nil, err
	}
	f.cleanup = append(f.cleanup, func() { f.db.Close() })
	return f, nil
}

func (f *farm) close() {
	for i := len(f.cleanup) - 1; i >= 0; i-- {
		f.cleanup[i]()
	}
	f.cleanup = nil
}

// do calls the API and decodes its JSON answer into out (when not nil).
func (f *farm) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.api.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+f.b.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		return fmt.Errorf("%s %s answered %d: %.300s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// createLive creates one customer synced in the background to the
// connection code, as a billing system does.
func (f *farm) createLive(ctx context.Context, externalID, code string) error {
	return f.do(ctx, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
		"external_id": externalID, "name": "Bench Customer", "email": "bench@example.test", "currency": "USD",
		"billing_configuration": map[string]any{"payment_provider": "stripe", "payment_provider_code": code,
			"sync_with_provider": true, "sync": false},
	}}, nil)
}

type runView struct {
	ID       string  `json:"id"`
	State    string  `json:"state"`
	Total    int     `json:"total"`
	Done     int     `json:"done"`
	Synced   int     `json:"synced"`
	Failed   int     `json:"failed"`
	Skipped  int     `json:"skipped"`
	InFlight int     `json:"in_flight"`
	Rate     float64 `json:"rate_per_second"`
}

func (f *farm) startRun(ctx context.Context, run map[string]any) (*runView, error) {
	var out struct {
		Run runView `json:"sync_run"`
	}
	err := f.do(ctx, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": run}, &out)
	return &out.Run, err
}

func (f *farm) getRun(ctx context.Context, id string) (*runView, error) {
	var out struct {
		Run runView `json:"sync_run"`
	}
	err := f.do(ctx, "GET", "/api/v1/sync_runs/"+id, nil, &out)
	return &out.Run, err
}

// seedEmulator creates n numbered customers in the emulator of code (with
// metadata external_id prefix+number when prefix is set) and returns
// their ids, oldest first, read back from its customer list.
func (f *farm) seedEmulator(ctx context.Context, code string, n int, prefix string, wantIDs bool) ([]string, error) {
	e := f.emus[code]
	for done := 0; done < n; {
		k := min(n-done, 100_000)
		body, _ := json.Marshal(map[string]any{"count": k, "external_id_prefix": prefix})
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(ctx, "POST", "/_sandbox/seed", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk_test_bench")
		e.emu.ServeHTTP(rec, req)
		if rec.Code != 201 {
			return nil, fmt.Errorf("seed: %d %s", rec.Code, rec.Body.String())
		}
		done += k
	}
	if !wantIDs {
		return nil, nil
	}
	// Stripe lists newest first; the emulator's list is served in process.
	ids := make([]string, 0, n)
	after := ""
	for {
		q := url.Values{"limit": {"100"}}
		if after != "" {
			q.Set("starting_after", after)
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(ctx, "GET", "/v1/customers?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer sk_test_bench")
		e.emu.ServeHTTP(rec, req)
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			HasMore bool `json:"has_more"`
		}
		if rec.Code != 200 {
			return nil, fmt.Errorf("list: %d %s", rec.Code, rec.Body.String())
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			return nil, err
		}
		for _, c := range page.Data {
			ids = append(ids, c.ID)
		}
		if !page.HasMore || len(page.Data) == 0 {
			break
		}
		after = page.Data[len(page.Data)-1].ID
	}
	return ids, nil
}

// insertCustomers writes n customers external_id prefix+number straight
// into the store (the API would take as long as the scenario), linked to
// the connection code as synced to providerIDs[i] when providerIDs is set.
func (f *farm) insertCustomers(ctx context.Context, prefix string, n int, code string, providerIDs []string) error {
	const chunk = 5000
	for start := 0; start < n; start += chunk {
		end := min(n, start+chunk)
		ext := make([]string, 0, end-start)
		for i := start; i < end; i++ {
			ext = append(ext, fmt.Sprintf("%s%05d", prefix, i+1))
		}
		tx, err := f.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, organization_id, external_id, name, email, created_at, updated_at)
			SELECT gen_random_uuid()::text, $1, e, 'Bench Customer', 'bench@example.test', now(), now() FROM unnest($2::text[]) AS e`,
			f.org, ext); err != nil {
			tx.Rollback()
			return err
		}
		if providerIDs != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO provider_links (id, customer_id, organization_id, provider, connection_code,
				provider_customer_id, sync_with_provider, generation, state, synced_at, pm_checked_at, updated_at)
				SELECT gen_random_uuid()::text, c.id, c.organization_id, 'stripe', $3, p.pid, TRUE, 1, 'synced', now(), now(), now()
				FROM unnest($2::text[], $4::text[]) AS p(ext, pid) JOIN customers c ON c.organization_id = $1 AND c.external_id = p.ext`,
				f.org, ext, code, providerIDs[start:end]); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	for _, t := range []string{"customers", "provider_links"} {
		if _, err := f.db.ExecContext(ctx, "ANALYZE "+t); err != nil {
			return err
		}
	}
	return nil
}

// count runs a COUNT query.
func (f *farm) count(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := f.db.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}
