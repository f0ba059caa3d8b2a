package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/api"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/store"
)

// recordingQueue records what the Service enqueues; the real asynq queue
// is covered by the end-to-end tests.
type recordingQueue struct {
	mu   sync.Mutex
	refs []paysync.LinkRef
}

func (q *recordingQueue) EnqueueSync(_ context.Context, ref paysync.LinkRef, _ time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refs = append(q.refs, ref)
	return nil
}

func (q *recordingQueue) got() []paysync.LinkRef {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]paysync.LinkRef(nil), q.refs...)
}

// recordingSyncer records inline syncs, stores result as the job would,
// and returns err.
type recordingSyncer struct {
	store  paysync.Store
	mu     sync.Mutex
	refs   []paysync.LinkRef
	result paysync.SyncResult
	err    error
}

func (s *recordingSyncer) Sync(ctx context.Context, ref paysync.LinkRef) error {
	s.mu.Lock()
	s.refs = append(s.refs, ref)
	result, err := s.result, s.err
	s.mu.Unlock()
	if result.State != "" {
		if _, rerr := s.store.RecordSync(ctx, ref, result); rerr != nil {
			return rerr
		}
	}
	return err
}

func (s *recordingSyncer) got() []paysync.LinkRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]paysync.LinkRef(nil), s.refs...)
}

func (s *recordingSyncer) set(result paysync.SyncResult, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.result, s.err = result, err
}

// staticConnections lists configured connections; the Service never asks
// for a Provider.
type staticConnections struct {
	mu    sync.Mutex
	conns []paysync.Connection
}

func (c *staticConnections) List(orgID string, kind paysync.ProviderKind) []paysync.Connection {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []paysync.Connection
	for _, conn := range c.conns {
		if conn.OrganizationID == orgID && (kind == "" || conn.Provider == kind) {
			out = append(out, conn)
		}
	}
	return out
}

func (c *staticConnections) Provider(orgID string, kind paysync.ProviderKind, code string) (paysync.Provider, error) {
	return nil, paysync.Errorf(paysync.ENOTFOUND, "the api tests use no provider")
}

func (c *staticConnections) add(orgID string, kind paysync.ProviderKind, code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = append(c.conns, paysync.Connection{OrganizationID: orgID, Provider: kind, Code: code})
}

// harness is a real server on a real store, with one organization and key.
type harness struct {
	t      *testing.T
	url    string
	store  *store.DB
	queue  *recordingQueue
	syncer *recordingSyncer
	conns  *staticConnections
	logs   *syncBuffer
	org    *paysync.Organization
	key    string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func sqliteDSN(t *testing.T) string { return filepath.Join(t.TempDir(), "paysync.db") }

// databases runs f against SQLite and PostgreSQL.
func databases(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, testenv.PostgresURL(t)) })
}

func newHarness(t *testing.T, dsn string, edit ...func(*api.Deps)) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: db, queue: &recordingQueue{}, syncer: &recordingSyncer{store: db}, conns: &staticConnections{}, logs: &syncBuffer{}}
	h.org, h.key = h.newOrganization("acme")
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := api.Deps{
		Service: &paysync.Service{
			Store: db, Connections: h.conns, Queue: h.queue, Syncer: h.syncer,
			InlineTimeout: 5 * time.Second, Logger: logger,
		},
		Store:  db,
		Logger: logger,
	}
	for _, e := range edit {
		e(&d)
	}
	srv := httptest.NewServer(api.NewServer(d))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// newOrganization creates an organization with a key shaped like Lago's
// (a random UUID).
func (h *harness) newOrganization(name string) (*paysync.Organization, string) {
	h.t.Helper()
	ctx := context.Background()
	org, err := h.store.EnsureOrganization(ctx, name)
	if err != nil {
		h.t.Fatal(err)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	x := hex.EncodeToString(b)
	key := x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
	if err := h.store.AddAPIKey(ctx, org.ID, api.HashKey(key)); err != nil {
		h.t.Fatal(err)
	}
	return org, key
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response body is not a JSON object: %v: %s", err, r.body)
	}
	return v
}

// request sends a request with the credentials auth sets (none when nil).
func (h *harness) request(method, path string, auth func(*http.Request), body io.Reader) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if auth != nil {
		auth(req)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// withHeader sets one header when value is not empty.
func withHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) {
		if value != "" {
			r.Header.Set(name, value)
		}
	}
}

// do sends a request authenticated the Lago way (Bearer), none when key is "".
func (h *harness) do(method, path, key string, body io.Reader) response {
	h.t.Helper()
	bearer := ""
	if key != "" {
		bearer = "Bearer " + key
	}
	return h.request(method, path, withHeader("Authorization", bearer), body)
}

func (h *harness) post(body string) response {
	h.t.Helper()
	return h.do("POST", "/api/v1/customers", h.key, strings.NewReader(body))
}

func (h *harness) get(path string) response {
	h.t.Helper()
	return h.do("GET", path, h.key, nil)
}

// wantStatus fails unless r has status.
func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
}

// countCustomers is how many customers the organization has in the store.
func (h *harness) countCustomers(orgID string) int {
	h.t.Helper()
	_, total, err := h.store.Customers(context.Background(), orgID, paysync.CustomerFilter{Page: 1, PerPage: 1})
	if err != nil {
		h.t.Fatal(err)
	}
	return total
}

// customer reads a customer from the store by external id.
func (h *harness) customer(externalID string) *paysync.Customer {
	h.t.Helper()
	c, err := h.store.Customer(context.Background(), h.org.ID, paysync.CustomerKey{ExternalID: externalID})
	if err != nil {
		h.t.Fatalf("customer %s: %v", externalID, err)
	}
	return c
}

// path walks a decoded JSON value: path(v, "customer", "billing_configuration", "payment_provider").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// jsonEqual compares two JSON documents semantically.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("body\n got: %s\nwant: %s", gb, wb)
	}
}
