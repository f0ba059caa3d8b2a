package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/paysync/paysync/sandbox/fault"
)

// Provider scenarios (e) and (f): two worker processes share one
// connection's rate limit through Redis, against an emulator with 200 ms of
// latency that answers 429 beyond 100 requests/s.
const (
	providerLatency = 200 * time.Millisecond
	providerCap     = 100.0
	liveRate        = 10 // live creates/s in (f): half the live share of the cap
)

func (f *farm) providerScenarios(ctx context.Context, runE, runF bool, phase time.Duration, bulkSize int) error {
	b := f.b
	emu := f.emus[connSlow]
	const links = 50
	// Seeded before the faults, in process: the provider customers that
	// links (e) and the bulk resync (f) point to.
	linkIDs, err := f.seedEmulator(ctx, connSlow, links, "", true)
	if err != nil {
		return err
	}
	if runF {
		all, err := f.seedEmulator(ctx, connSlow, bulkSize, "", true)
		if err != nil {
			return err
		}
		taken := map[string]bool{}
		for _, id := range linkIDs {
			taken[id] = true
		}
		var ids []string
		for _, id := range all {
			if !taken[id] {
				ids = append(ids, id)
			}
		}
		if err := f.insertCustomers(ctx, "bulkf-", bulkSize, connSlow, ids); err != nil {
			return err
		}
	}
	emu.emu.Faults.Set(fault.Settings{Latency: providerLatency, RateCap: providerCap})
	procs, err := startWorkers(ctx, 2, f.env, b.errs)
	if err != nil {
		return err
	}
	defer stopWorkers(procs)
	first429 := emu.c.status[429].Load()

	// provider_calls_per_link: existing provider ids linked through the API.
	before := emu.c.requests.Load()
	for i, id := range linkIDs {
		if err := f.do(ctx, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
			"external_id": fmt.Sprintf("link-%d", i), "name": "Bench Linked",
			"billing_configuration": map[string]any{"payment_provider": "stripe", "payment_provider_code": connSlow,
				"provider_customer_id": id, "sync_with_provider": true, "sync": false},
		}}, nil); err != nil {
			return err
		}
	}
	if err := f.waitSynced(ctx, "link-", links, time.Minute); err != nil {
		return err
	}
	callsPerLink := float64(emu.c.requests.Load()-before) / links

	if runE {
		// A backlog of creates drained at the cap: rate between the first
		// and the last sync.
		n := int(providerCap * phase.Seconds())
		before = emu.c.requests.Load()
		if err := f.createMany(ctx, "cap-", n, connSlow); err != nil {
			return err
		}
		if err := f.waitSynced(ctx, "cap-", n, 4*phase+time.Minute); err != nil {
			return err
		}
		calls := float64(emu.c.requests.Load() - before)
		var span float64
		if err := f.db.QueryRowContext(ctx, `SELECT EXTRACT(EPOCH FROM MAX(l.synced_at) - MIN(l.synced_at))::float8
			FROM customers c JOIN provider_links l ON l.customer_id = c.id WHERE c.external_id LIKE 'cap-%'`).Scan(&span); err != nil {
			return err
		}
		rate := float64(n-1) / span
		perCreate := calls / float64(n)
		b.print("rate_limited_syncs_per_s", rate, "1/s")
		b.print("rate_limit_cap", providerCap, "1/s")
		b.print("provider_calls_per_create", perCreate, "1")
		b.print("provider_calls_per_link", callsPerLink, "1")
		b.print("rate_limited_vs_cap_ratio", rate/(providerCap/perCreate), "x")
	}

	if runF {
		nobulk50, nobulk99, nn, err := f.liveLag(ctx, "live-nobulk-", phase)
		if err != nil {
			return err
		}
		run, err := f.startRun(ctx, map[string]any{"mode": "resync",
			"filter": map[string]any{"provider": "stripe", "connection_code": connSlow}})
		if err != nil {
			return err
		}
		// The live creates start once the run's tasks hold the workers.
		deadline := time.Now().Add(30 * time.Second)
		for {
			r, err := f.getRun(ctx, run.ID)
			if err != nil {
				return err
			}
			if r.Done >= 20 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		r0, err := f.getRun(ctx, run.ID)
		if err != nil {
			return err
		}
		t0 := time.Now()
		bulk50, bulk99, nb, err := f.liveLag(ctx, "live-bulk-", phase)
		if err != nil {
			return err
		}
		r1, err := f.getRun(ctx, run.ID)
		if err != nil {
			return err
		}
		bulkRate := float64(r1.Done-r0.Done) / time.Since(t0).Seconds()
		if r1.State == "done" {
			fmt.Fprintln(b.errs, "paysync-bench: (f) the bulk run finished before the live creates did: raise -bulk-size")
		}
		_ = f.do(ctx, "POST", "/api/v1/sync_runs/"+run.ID+"/cancel", nil, nil)
		b.print("live_sync_lag_p50", ms(nobulk50), "ms")
		b.print("live_sync_lag_p99", ms(nobulk99), "ms")
		b.print("live_sync_lag_p50_during_bulk", ms(bulk50), "ms")
		b.print("live_sync_lag_p99_during_bulk", ms(bulk99), "ms")
		b.print("live_sync_lag_samples", float64(nn+nb), "1")
		b.print("bulk_syncs_per_s_during_live", bulkRate, "1/s")
		b.print("bulk_run_size", float64(r1.Total), "1")
	}
	b.print("provider_429s", float64(emu.c.status[429].Load()-first429), "1")
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// createMany creates n customers prefix0... through the API, 16 at a time.
func (f *farm) createMany(ctx context.Context, prefix string, n int, code string) error {
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				if err := f.createLive(ctx, fmt.Sprintf("%s%d", prefix, i), code); err != nil {
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

// waitSynced waits until the n customers whose external id starts with
// prefix are synced.
func (f *farm) waitSynced(ctx context.Context, prefix string, n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		got, err := f.count(ctx, `SELECT COUNT(*) FROM customers c JOIN provider_links l ON l.customer_id = c.id
			WHERE c.external_id LIKE $1 || '%' AND l.state = 'synced'`, prefix)
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d %s customers synced in %s", got, n, prefix, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// liveLag creates customers at liveRate for d and returns the p50 and p99
// of create → synced.
func (f *farm) liveLag(ctx context.Context, prefix string, d time.Duration) (p50, p99 time.Duration, n int, err error) {
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	tick := time.NewTicker(time.Second / liveRate)
	defer tick.Stop()
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		<-tick.C
		id := fmt.Sprintf("%s%d", prefix, n)
		n++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.createLive(ctx, id, connSlow); err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		return 0, 0, 0, failed
	}
	if err := f.waitSynced(ctx, prefix, n, d+time.Minute); err != nil {
		return 0, 0, 0, err
	}
	rows, err := f.db.QueryContext(ctx, `SELECT EXTRACT(EPOCH FROM l.synced_at - c.created_at)::float8
		FROM customers c JOIN provider_links l ON l.customer_id = c.id WHERE c.external_id LIKE $1 || '%'`, prefix)
	if err != nil {
		return 0, 0, 0, err
	}
	defer rows.Close()
	var lags []time.Duration
	for rows.Next() {
		var s float64
		if err := rows.Scan(&s); err != nil {
			return 0, 0, 0, err
		}
		lags = append(lags, time.Duration(s*float64(time.Second)))
	}
	if len(lags) == 0 {
		return 0, 0, 0, errors.New("no live customer synced")
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	return lags[len(lags)*50/100], lags[min(len(lags)-1, len(lags)*99/100)], len(lags), rows.Err()
}
