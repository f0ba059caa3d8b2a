// Command paysync-bench measures paysync against the configured PostgreSQL
// (DATABASE_URL) and Redis (REDIS_URL), each figure next to a baseline
// measured in the same run, and prints one figure per line as
// "name value unit".
//
//	go run ./cmd/paysync-bench -duration 60s
//	go run ./cmd/paysync-bench -scenarios h,i -bulk-size 100000 -import-size 100000
//
// Scenarios: (a) API creates, (b) sync lag, (c) worker throughput and (d)
// peak memory against the zero-latency sandbox; (e) two worker processes
// at a provider's rate limit, (f) live syncs during a bulk resync, (g) the
// reconciler's drain after Redis lost every task, (h) a bulk resync and
// (i) an import, each in worker processes the bench starts (itself, with a
// hidden first argument).
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/api"
	"github.com/paysync/paysync/config"
	"github.com/paysync/paysync/internal/app"
	"github.com/paysync/paysync/jobs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == workerCommand {
		if err := runWorkerProcess(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "paysync-bench worker:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "paysync-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration    time.Duration
	concurrency int
	rate        int
	workers     int
	scenarios   map[string]bool
	// Sizes of (f), (g), (h) and (i); 0 scales them with duration.
	fBulk, drain, bulk, imports int
}

// allScenarios is the default -scenarios.
const allScenarios = "a,b,c,d,e,f,g,h,i"

// scaled is full × duration / per, at least floor: the issues' full sizes
// at a bench of duration per, so that the default one fits in 5 minutes.
func scaled(set, full int, d, per time.Duration, floor int) int {
	if set > 0 {
		return set
	}
	return max(floor, int(float64(full)*d.Seconds()/per.Seconds()))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("paysync-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "total measuring time, split between the phases")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent API clients in the throughput phase")
	fs.IntVar(&o.rate, "rate", 200, "creates per second in the sync-lag phase")
	fs.IntVar(&o.workers, "workers", 20, "worker concurrency")
	list := fs.String("scenarios", allScenarios, "comma-separated scenarios to run (a to i)")
	fs.IntVar(&o.fBulk, "f-bulk-size", 0, "customers of (f)'s bulk resync (default 20,000 × duration/10m)")
	fs.IntVar(&o.drain, "drain-size", 0, "pending links of (g) (default 20,000 × duration/60s)")
	fs.IntVar(&o.bulk, "bulk-size", 0, "customers of (h)'s bulk resync (default 100,000 × duration/20m)")
	fs.IntVar(&o.imports, "import-size", 0, "provider customers of (i)'s import (default 100,000 × duration/20m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.scenarios = map[string]bool{}
	for _, s := range strings.Split(*list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(allScenarios, s) || len(s) != 1 {
			return fmt.Errorf("-scenarios: %q is not one of %s", s, allScenarios)
		}
		o.scenarios[s] = true
	}
	if o.duration < 6*time.Second {
		return errors.New("-duration: at least 6s")
	}
	if o.rate <= 0 || o.concurrency <= 0 || o.workers <= 0 {
		return errors.New("-rate, -concurrency and -workers must be positive")
	}
	dbURL := envOr(getenv, "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if !strings.HasPrefix(dbURL, "postgres") {
		return errors.New("DATABASE_URL: the benchmark runs against PostgreSQL")
	}
	redisURL := envOr(getenv, "REDIS_URL", "redis://127.0.0.1:6379/0")
	benchDB, drop, err := scratchDatabase(ctx, dbURL)
	if err != nil {
		return err
	}
	defer drop()

	queue := fmt.Sprintf("bench%d", time.Now().UnixNano())
	env := map[string]string{
		"DATABASE_URL": benchDB, "REDIS_URL": redisURL, "PAYSYNC_QUEUE": queue,
		"PAYSYNC_API_KEY": "bench-key-0123456789", "PAYSYNC_CONCURRENCY": strconv.Itoa(o.workers),
	}
	// Tuning knobs pass through, so that a run can compare settings.
	for _, k := range []string{"PAYSYNC_POLL_INTERVAL"} {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(ctx, cfg, quiet, io.Discard) // no connections: the zero-latency sandbox emulators
	if err != nil {
		return err
	}
	defer a.Close()
	srv := httptest.NewServer(api.NewServer(api.Deps{Service: a.Service, Store: a.DB, Logger: quiet, Ready: a.Ready}))
	defer srv.Close()
	org, err := a.DB.EnsureOrganization(ctx, config.DefaultOrganization)
	if err != nil {
		return err
	}
	b := &bench{o: o, a: a, url: srv.URL, key: env["PAYSYNC_API_KEY"], org: org.ID, out: stdout, errs: stderr, queue: queue, getenv: getenv}
	b.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency * 2}}
	phase := o.duration / 6
	inspector := asynq.NewInspectorFromRedisClient(a.Redis)
	if err := b.sandboxScenarios(ctx, phase, inspector); err != nil {
		return err
	}
	return b.farmScenarios(ctx, dbURL, redisURL, phase)
}

// sandboxScenarios are (a) to (d), in this process against the zero-latency
// sandbox emulators.
func (b *bench) sandboxScenarios(ctx context.Context, phase time.Duration, inspector *asynq.Inspector) error {
	o, a, queue := b.o, b.a, b.queue
	if o.scenarios["a"] {
		// (a) API creates/s next to the same store-and-enqueue work without HTTP.
		apiRate, inRate := b.interleaved(ctx, phase, b.createHTTP, b.createInProcess)
		b.print("api_creates_per_s", apiRate, "1/s")
		b.print("inprocess_creates_per_s", inRate, "1/s")
		b.print("api_vs_inprocess_ratio", apiRate/inRate, "x")
	}

	// (c) Worker syncs/s over the backlog (a) left, next to asynq's own
	// no-op throughput on the same Redis with the same settings.
	// Syncs wait in the critical queue of each base name.
	critical := func(base string) string { return jobs.Options{Queue: base}.CriticalQueue() }
	if o.scenarios["c"] {
		// Without (a)'s backlog, one of the same size.
		if !o.scenarios["a"] {
			n := int(2000 * phase.Seconds())
			for i := 0; i < n; {
				k := min(n-i, 5000)
				i += k
				b.closedLoopN(ctx, k, b.createInProcess)
			}
		}
		syncRate, err := b.drainRate(ctx, inspector, critical(queue), phase, func(mux *asynq.ServeMux) { mux.Handle(jobs.TypeSync, a.Syncer) })
		if err != nil {
			return err
		}
		noopQueue := queue + "-noop"
		if err := b.fillNoop(ctx, noopQueue, int(syncRate*phase.Seconds()*1.5)+1000); err != nil {
			return err
		}
		noopRate, err := b.drainRate(ctx, inspector, critical(noopQueue), phase, func(mux *asynq.ServeMux) {
			mux.HandleFunc(jobs.TypeSync, func(context.Context, *asynq.Task) error { return nil })
		})
		if err != nil {
			return err
		}
		b.print("worker_syncs_per_s", syncRate, "1/s")
		b.print("asynq_noop_tasks_per_s", noopRate, "1/s")
		b.print("worker_vs_noop_ratio", syncRate/noopRate, "x")
		for _, q := range []string{critical(queue), critical(noopQueue)} {
			_, _ = inspector.DeleteAllPendingTasks(q)
		}
	}

	// (b) Sync lag at a steady create rate, workers running.
	if o.scenarios["b"] {
		_, _ = inspector.DeleteAllPendingTasks(critical(queue))
		p50, p99, n, err := b.syncLag(ctx, phase)
		if err != nil {
			return err
		}
		b.print("sync_lag_p50", float64(p50.Microseconds())/1000, "ms")
		b.print("sync_lag_p99", float64(p99.Microseconds())/1000, "ms")
		b.print("sync_lag_samples", float64(n), "1")
	}

	// (d) Peak memory of this process: API, service, worker and emulator.
	if o.scenarios["d"] {
		if rss, err := peakRSS(); err == nil {
			b.print("peak_rss", float64(rss)/1024, "MiB")
		}
	}
	return nil
}

// closedLoopN runs op n times from o.concurrency goroutines.
func (b *bench) closedLoopN(ctx context.Context, n int, op func(context.Context) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range b.o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				_ = op(ctx)
			}
		}()
	}
	wg.Wait()
}

// farmScenarios are (e) to (i): worker processes against counted emulators.
func (b *bench) farmScenarios(ctx context.Context, dbURL, redisURL string, phase time.Duration) error {
	o := b.o
	if !(o.scenarios["e"] || o.scenarios["f"] || o.scenarios["g"] || o.scenarios["h"] || o.scenarios["i"]) {
		return nil
	}
	f, err := b.newFarm(ctx, dbURL, redisURL, o.workers)
	if err != nil {
		return err
	}
	defer f.close()
	if o.scenarios["e"] || o.scenarios["f"] {
		fBulk := scaled(o.fBulk, 20_000, o.duration, 10*time.Minute, 500)
		if err := f.providerScenarios(ctx, o.scenarios["e"], o.scenarios["f"], phase, fBulk); err != nil {
			return fmt.Errorf("(e)/(f): %w", err)
		}
	}
	if o.scenarios["g"] {
		if err := f.drainScenario(ctx, scaled(o.drain, 20_000, o.duration, time.Minute, 1000)); err != nil {
			return fmt.Errorf("(g): %w", err)
		}
	}
	if o.scenarios["h"] {
		if err := f.bulkScenario(ctx, scaled(o.bulk, 100_000, o.duration, 20*time.Minute, 1000)); err != nil {
			return fmt.Errorf("(h): %w", err)
		}
	}
	if o.scenarios["i"] {
		if err := f.importScenario(ctx, scaled(o.imports, 100_000, o.duration, 20*time.Minute, 1000)); err != nil {
			return fmt.Errorf("(i): %w", err)
		}
	}
	return nil
}

type bench struct {
	o      options
	a      *app.App
	url    string
	key    string
	org    string
	out    io.Writer
	errs   io.Writer
	queue  string
	client *http.Client
	seq    atomic.Int64
	getenv func(string) string
}

func (b *bench) print(name string, v float64, unit string) {
	fmt.Fprintf(b.out, "%s %s %s\n", name, strconv.FormatFloat(v, 'f', 2, 64), unit)
}

func (b *bench) nextID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, b.seq.Add(1))
}

// customerBody is a realistic Lago create with a background Stripe sync.
func customerBody(externalID string) []byte {
	raw, _ := json.Marshal(map[string]any{"customer": map[string]any{
		"external_id": externalID, "name": "Bench Customer", "email": "bench@example.test", "country": "US",
		"currency": "USD", "timezone": "America/New_York", "address_line1": "1 Main St", "city": "Springfield",
		"billing_configuration": map[string]any{"payment_provider": "stripe", "sync_with_provider": true},
		"metadata":              []map[string]any{{"key": "plan", "value": "pro", "display_in_invoice": false}},
	}})
	return raw
}

func (b *bench) createHTTP(ctx context.Context) error {
	return b.createHTTPWithID(ctx, b.nextID("api"))
}

// createInProcess does what the Lago handler does after decoding: the same
// fields through the same service, store and queue.
func (b *bench) createInProcess(ctx context.Context) error {
	var in struct {
		Customer map[string]any `json:"customer"`
	}
	if err := json.Unmarshal(customerBody(b.nextID("inproc")), &in); err != nil {
		return err
	}
	sync := true
	_, _, err := b.a.Service.Upsert(ctx, paysync.UpsertRequest{
		OrganizationID: b.org, ExternalID: in.Customer["external_id"].(string),
		Apply: func(c *paysync.Customer) {
			c.Name, c.Email, c.Currency, c.Timezone = "Bench Customer", "bench@example.test", "USD", "America/New_York"
			c.BillingAddress = paysync.Address{Line1: "1 Main St", City: "Springfield", Country: "US"}
			c.Metadata = []paysync.Metadata{{Key: "plan", Value: "pro"}}
		},
		Billing: &paysync.BillingRequest{ProviderSet: true, Provider: paysync.Stripe, SyncWithProvider: &sync},
	})
	return err
}

// closedLoop runs op from o.concurrency goroutines for d and returns ops/s.
// interleaved measures two operations in alternating slices of one
// budget d each, so that drift over the run (a growing table, a
// checkpoint, the other core's load) weighs on both alike.
func (b *bench) interleaved(ctx context.Context, d time.Duration, x, y func(context.Context) error) (float64, float64) {
	const slices = 4
	var xs, ys float64
	for range slices {
		xs += b.closedLoop(ctx, d/slices, x)
		ys += b.closedLoop(ctx, d/slices, y)
	}
	return xs / slices, ys / slices
}

func (b *bench) closedLoop(ctx context.Context, d time.Duration, op func(context.Context) error) float64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range b.o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(b.errs, "paysync-bench: %d operations failed; the first: %v\n", f, firstErr.Load())
	}
	return float64(done.Load()) / time.Since(start).Seconds()
}

// drainRate starts a worker on queue for d and returns the tasks it
// completed per second.
func (b *bench) drainRate(ctx context.Context, insp *asynq.Inspector, queue string, d time.Duration, register func(*asynq.ServeMux)) (float64, error) {
	before, err := insp.GetQueueInfo(queue)
	if err != nil {
		return 0, err
	}
	srv := asynq.NewServer(b.a.RedisOpt, asynq.Config{
		Concurrency: b.o.workers, Queues: map[string]int{queue: 1},
		TaskCheckInterval: b.a.Config.PollInterval, LogLevel: asynq.ErrorLevel,
	})
	mux := asynq.NewServeMux()
	register(mux)
	start := time.Now()
	if err := srv.Start(mux); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		info, err := insp.GetQueueInfo(queue)
		if err == nil && info.Pending+info.Active == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	srv.Shutdown()
	after, err := insp.GetQueueInfo(queue)
	if err != nil {
		return 0, err
	}
	return float64(after.Processed-before.Processed) / elapsed.Seconds(), nil
}

func (b *bench) fillNoop(ctx context.Context, queue string, n int) error {
	client := asynq.NewClientFromRedisClient(b.a.Redis)
	var wg sync.WaitGroup
	errc := make(chan error, b.o.concurrency)
	per := n/b.o.concurrency + 1
	for w := range b.o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				ref := paysync.LinkRef{ID: fmt.Sprintf("noop-%d-%d", w, i), Generation: 1}
				t, err := jobs.NewSyncTask(ref, jobs.Options{Queue: queue})
				if err == nil {
					_, err = client.EnqueueContext(ctx, t)
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// syncLag creates customers at a steady rate with the worker running and
// returns the p50 and p99 of create → provider_customer_id stored.
func (b *bench) syncLag(ctx context.Context, d time.Duration) (p50, p99 time.Duration, n int, err error) {
	srv, mux := jobs.NewWorker(b.a.RedisOpt, jobs.WorkerOptions{
		Options: b.a.Queue.Options, Concurrency: b.o.workers, PollInterval: b.a.Config.PollInterval, ShutdownTimeout: 5 * time.Second,
	}, jobs.Handlers{Sync: b.a.Syncer}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(mux); err != nil {
		return 0, 0, 0, err
	}
	defer srv.Shutdown()
	var ids []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(b.o.rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		<-tick.C
		id := b.nextID("lag")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.createHTTPWithID(ctx, id); err == nil {
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var lags []time.Duration
	deadline := time.Now().Add(d)
	for _, id := range ids {
		for {
			c, err := b.a.DB.Customer(ctx, b.org, paysync.CustomerKey{ExternalID: id})
			if err != nil {
				return 0, 0, 0, err
			}
			if c.Link != nil && c.Link.SyncedAt != nil {
				lags = append(lags, c.Link.SyncedAt.Sub(c.CreatedAt))
				break
			}
			if time.Now().After(deadline) {
				return 0, 0, 0, fmt.Errorf("customer %s not synced in time", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(lags) == 0 {
		return 0, 0, 0, errors.New("no customer synced")
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	return lags[len(lags)*50/100], lags[min(len(lags)-1, len(lags)*99/100)], len(lags), nil
}

func (b *bench) createHTTPWithID(ctx context.Context, id string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", b.url+"/api/v1/customers", bytes.NewReader(customerBody(id)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.key)
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("create answered %d", resp.StatusCode)
	}
	return nil
}

// scratchDatabase creates an empty database next to the configured one.
func scratchDatabase(ctx context.Context, url string) (string, func(), error) {
	admin, err := sql.Open("pgx", url)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("paysync_bench_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("DATABASE_URL: create a scratch database: %w", err)
	}
	base, query, _ := strings.Cut(url, "?")
	u := base[:strings.LastIndex(base, "/")+1] + name
	if query != "" {
		u += "?" + query
	}
	return u, func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}, nil
}

// peakRSS reads the process's high-water resident set in KiB.
func peakRSS() (int64, error) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}
