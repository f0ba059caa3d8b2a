package providers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/providers"
	"github.com/paysync/paysync/providers/stripe"
	"github.com/paysync/paysync/sandbox"
	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/stripeemu"
)

// redisServers are the two Redis setups the shared limiter runs on: the
// real server, and the in-process one of embedded mode. Each call of the
// returned function is a new client, as a new process would open.
func redisServers(t *testing.T) map[string]func() redis.UniversalClient {
	opt, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	mr := miniredis.RunT(t)
	client := func(o *redis.Options) func() redis.UniversalClient {
		return func() redis.UniversalClient {
			c := redis.NewClient(o)
			t.Cleanup(func() { c.Close() })
			return c
		}
	}
	return map[string]func() redis.UniversalClient{
		"redis":     client(opt),
		"miniredis": client(&redis.Options{Addr: mr.Addr()}),
	}
}

// instance is one process's registry for a sandbox Stripe connection of
// org, served by emu, with its own Redis client.
func instance(t *testing.T, org string, rateLimit float64, emu *stripeemu.Emulator, rdb redis.UniversalClient) paysync.Provider {
	t.Helper()
	return instanceSharing(t, org, rateLimit, 0, emu, rdb)
}

// instanceSharing is instance with bulk work held to (1 - liveShare) of rateLimit.
func instanceSharing(t *testing.T, org string, rateLimit, liveShare float64, emu *stripeemu.Emulator, rdb redis.UniversalClient) paysync.Provider {
	t.Helper()
	reg, err := providers.NewRegistry([]paysync.Connection{{OrganizationID: org, Provider: paysync.Stripe, Code: "s", RateLimit: rateLimit,
		BaseURL: "http://stripe.test", Credentials: sandbox.Credentials(paysync.Stripe)}},
		map[paysync.ProviderKind]providers.Factory{paysync.Stripe: func(c paysync.Connection, h *http.Client) (paysync.Provider, error) { return stripe.New(c, h) }},
		providers.Options{InProcess: map[string]http.Handler{"http://stripe.test": emu}, Redis: rdb, LiveShare: liveShare})
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.Provider(org, paysync.Stripe, "s")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var seq struct {
	sync.Mutex
	n int
}

// create makes one new customer: one call at the emulator.
func create(ctx context.Context, p paysync.Provider) error {
	seq.Lock()
	seq.n++
	n := seq.n
	seq.Unlock()
	link := &paysync.ProviderLink{ID: fmt.Sprintf("lnk_limit_%d", n), Generation: 1}
	_, err := p.CreateCustomer(ctx, paysync.CreateCustomerRequest{Customer: &paysync.Customer{ID: link.ID, Name: "Rate Limited"}, Link: link, IdempotencyKey: link.IdempotencyKey()})
	return err
}

// Two processes (two registries, each with its own Redis client) share one
// connection's 20 requests/s against an emulator that answers 429 beyond
// 20/s: together they stay within the limit, use most of it, and never
// meet a 429.
func TestSharedRateLimitAcrossProcesses(t *testing.T) {
	for name, newClient := range redisServers(t) {
		t.Run(name, func(t *testing.T) {
			const limit, run = 20, 2 * time.Second
			emu := stripeemu.New()
			emu.Faults.Set(fault.Settings{RateCap: limit})
			org := testenv.RandomName("org_")
			a, b := instance(t, org, limit, emu, newClient()), instance(t, org, limit, emu, newClient())
			ctx, cancel := context.WithTimeout(context.Background(), run)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for _, p := range []paysync.Provider{a, b, a, b, a, b, a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						if err := create(ctx, p); err != nil && ctx.Err() == nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			n := emu.Faults.Requests()
			// GCRA allows limit/s and a burst of a tenth of a second.
			if most := limit*int(run/time.Second) + limit/10 + 1; n > most {
				t.Errorf("%d requests in %s, want at most %d", n, run, most)
			}
			// Not starved either (the bound is loose: on a loaded machine,
			// under -race, slots are claimed late).
			if least := limit * int(run/time.Second) / 2; n < least {
				t.Errorf("%d requests in %s, want at least %d", n, run, least)
			}
			if got := emu.Faults.RateLimited(); got != 0 {
				t.Errorf("%d answers were 429", got)
			}
		})
	}
}

// Bulk work keeps to its part of the connection's rate, across processes,
// and live work sent at the same time gets the share left to it.
func TestBulkWorkLeavesTheLiveShare(t *testing.T) {
	for name, newClient := range redisServers(t) {
		t.Run(name, func(t *testing.T) {
			const limit, share, run = 20, 0.5, 2 * time.Second
			emu := stripeemu.New()
			emu.Faults.Set(fault.Settings{RateCap: limit})
			org := testenv.RandomName("org_")
			a, b := instanceSharing(t, org, limit, share, emu, newClient()), instanceSharing(t, org, limit, share, emu, newClient())
			ctx, cancel := context.WithTimeout(context.Background(), run)
			defer cancel()
			var wg sync.WaitGroup
			var mu sync.Mutex
			sent := map[bool]int{}
			for i, p := range []paysync.Provider{a, b, a, b, a, b, a, b} {
				bulk := i < 6 // bulk work outnumbers live work
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := ctx
					if bulk {
						ctx = paysync.WithBulk(ctx)
					}
					for create(ctx, p) == nil {
						mu.Lock()
						sent[bulk]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			secs := int(run / time.Second)
			// The bulk pace: (1 - share) of the limit and its own burst.
			if most := int(limit*(1-share))*secs + 2; sent[true] > most {
				t.Errorf("bulk work sent %d requests in %s, want at most %d", sent[true], run, most)
			}
			// Live work is not crowded out (loose: slots are claimed late
			// on a loaded machine).
			if least := int(limit*share) * secs / 2; sent[false] < least {
				t.Errorf("live work sent %d requests in %s, want at least %d (bulk sent %d)", sent[false], run, least, sent[true])
			}
			if got := emu.Faults.RateLimited(); got != 0 {
				t.Errorf("%d answers were 429", got)
			}
		})
	}
}

// A 429 with Retry-After met by one process pauses the connection in the
// other too; and a request whose deadline ends in the wait was not sent.
func TestRateLimitedAnswerPausesEveryProcess(t *testing.T) {
	for name, newClient := range redisServers(t) {
		t.Run(name, func(t *testing.T) {
			emu := stripeemu.New()
			org := testenv.RandomName("org_")
			a, b := instance(t, org, 100, emu, newClient()), instance(t, org, 100, emu, newClient())
			emu.Faults.Set(fault.Settings{FailNext: 1, Fail: fault.RateLimited, RetryAfter: 2 * time.Second})
			start := time.Now()
			if err := create(context.Background(), a); err == nil {
				t.Fatal("the 429 was not reported")
			}
			short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			err := create(short, b)
			var pe *paysync.ProviderError
			if !errors.As(err, &pe) || pe.Code != paysync.CodeNotSent || pe.Ambiguous() {
				t.Errorf("a wait cut short by the deadline = %v, want not_sent", err)
			}
			if err := create(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			if waited := time.Since(start); waited < 1900*time.Millisecond {
				t.Errorf("the other process sent after %s, want the 2 s Retry-After honoured", waited)
			}
			if got := emu.Faults.Requests(); got != 2 {
				t.Errorf("%d requests at the emulator, want 2 (the 429 and one create)", got)
			}
		})
	}
}
