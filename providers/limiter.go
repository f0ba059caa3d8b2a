package providers

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/metrics"
)

// Pauses a 429 asks for are kept within these bounds: at least a second
// when the provider names none, at most five minutes whatever its clock says.
const (
	defaultPause = time.Second
	maxPause     = 5 * time.Minute
)

// limiter paces one connection's requests under its rate_limit. With a
// Redis client the pace is shared by every process (API and workers): a
// GCRA limiter (redis_rate) keyed by organization and connection, and a
// "paused" key whose time to live is what a provider's 429 asked for, which
// every process waits out. Without Redis, or while it does not answer, each
// process keeps its own pace, as if it were alone.
type limiter struct {
	local *rate.Limiter

	redis redis.UniversalClient // nil: this process only
	gcra  *redis_rate.Limiter
	limit redis_rate.Limit
	key   string // names the connection, never its credentials

	// bulk, when set, is the pace bulk work (paysync.IsBulk) keeps on top
	// of the connection's: the rest of the budget stays for live work.
	bulk *limiter

	// maxWait bounds one request's wait below the client's own timeout,
	// which would otherwise end it with an error that no longer says "not sent".
	maxWait time.Duration

	mu          sync.Mutex
	pausedUntil time.Time // this process's own copy of the last pause
}

// newLimiter paces c at its rate_limit; liveShare (0 to 1) is the part of
// it bulk work may not use.
func newLimiter(c paysync.Connection, rdb redis.UniversalClient, liveShare float64) *limiter {
	key := fmt.Sprintf("paysync:ratelimit:%s:%s:%s", c.OrganizationID, c.Provider, c.Code)
	l := newPace(c.RateLimit, timeoutOf(c), rdb, key)
	if liveShare > 0 && liveShare < 1 {
		l.bulk = newPace(c.RateLimit*(1-liveShare), timeoutOf(c), rdb, key+":bulk")
	}
	return l
}

func newPace(perSecond float64, timeout time.Duration, rdb redis.UniversalClient, key string) *limiter {
	l := &limiter{local: rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond))), maxWait: timeout * 9 / 10}
	if rdb == nil {
		return l
	}
	l.redis, l.gcra, l.key = rdb, redis_rate.NewLimiter(rdb), key
	// One request per 1/rate; the burst is a tenth of a second of
	// traffic, so that the provider's own bucket (which sees our requests
	// with network jitter) never runs dry, while a request that claims its
	// slot a little late does not lose it.
	l.limit = redis_rate.Limit{Rate: 1, Period: time.Duration(float64(time.Second) / perSecond),
		Burst: max(1, int(math.Ceil(perSecond/10)))}
	return l
}

// The pause is kept as a time in Redis's own clock (ms), not as a key's
// time to live: the in-process Redis of embedded mode (miniredis) does not
// count TTLs down by itself. The key still expires on a real Redis.
var (
	// pauseScript moves the pause's end to ARGV[1] ms from now, never
	// earlier than a longer pause another process set.
	pauseScript = redis.NewScript(`
local t = redis.call("TIME")
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local untilMs = now + tonumber(ARGV[1])
local cur = tonumber(redis.call("GET", KEYS[1]) or "0")
if cur < untilMs then
  redis.call("SET", KEYS[1], tostring(untilMs), "PX", ARGV[1])
end
return 1`)
	// pausedScript returns the ms left of the pause, 0 or less for none.
	pausedScript = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if not v then
  return 0
end
local t = redis.call("TIME")
return tonumber(v) - (t[1] * 1000 + math.floor(t[2] / 1000))`)
)

// Wait blocks until the connection may send one request; bulk work waits
// for its own pace first. Its error wraps ErrNotSent: a request that gave
// up waiting never reached the provider.
func (l *limiter) Wait(ctx context.Context) error {
	deadline := time.Now().Add(l.maxWait)
	if l.bulk != nil && paysync.IsBulk(ctx) {
		if err := l.bulk.wait(ctx, deadline); err != nil {
			return err
		}
	}
	return l.wait(ctx, deadline)
}

func (l *limiter) wait(ctx context.Context, deadline time.Time) error {
	for {
		d := l.localPause()
		if d <= 0 && l.redis != nil {
			var err error
			d, err = l.shared(ctx)
			if err == nil && d <= 0 {
				return nil
			}
			if err != nil {
				d = 0 // Redis does not answer: this process's own pace
			}
		}
		if d <= 0 {
			if err := l.local.Wait(ctx); err != nil {
				return fmt.Errorf("%w: waiting for the connection's rate limit: %w", ErrNotSent, err)
			}
			return nil
		}
		if time.Until(deadline) < d {
			return fmt.Errorf("%w: the connection's rate limit holds requests for over %s", ErrNotSent, l.maxWait)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: waiting for the connection's rate limit: %w", ErrNotSent, ctx.Err())
		}
	}
}

// shared asks Redis how long to wait: the pause's time to live, else the
// GCRA's retry delay; 0 means the request may go now (its slot is taken).
func (l *limiter) shared(ctx context.Context) (time.Duration, error) {
	ms, err := pausedScript.Run(ctx, l.redis, []string{l.key + ":paused"}).Int64()
	if err != nil {
		return 0, err
	}
	if ms > 0 {
		return time.Duration(ms) * time.Millisecond, nil
	}
	res, err := l.gcra.Allow(ctx, l.key, l.limit)
	if err != nil {
		return 0, err
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}

func (l *limiter) localPause() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Until(l.pausedUntil)
}

// Pause holds every request of the connection for d, in every process.
func (l *limiter) Pause(ctx context.Context, d time.Duration) {
	d = min(max(d, defaultPause), maxPause)
	l.mu.Lock()
	if until := time.Now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
	l.mu.Unlock()
	if l.redis == nil {
		return
	}
	// The pause outlives the request that met the 429; this process
	// keeps its own copy if Redis does not take it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = pauseScript.Run(ctx, l.redis, []string{l.key + ":paused"}, d.Milliseconds()).Err()
}

// rateLimited holds each request until the connection's limiter allows it,
// so that paysync stays under the provider's rate limit instead of
// collecting 429s, and turns a 429 it meets into a pause for the whole
// connection, honouring the provider's Retry-After (RateLimit-Reset at
// GoCardless).
type rateLimited struct {
	kind    paysync.ProviderKind // the wait's metric label
	limiter *limiter
	next    http.RoundTripper
}

func (t *rateLimited) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	err := t.limiter.Wait(req.Context())
	metrics.RateLimitWait.WithLabelValues(string(t.kind)).Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		t.limiter.Pause(req.Context(), pauseFor(resp.Header, time.Now()))
	}
	return resp, err
}

// pauseFor is the wait a 429's headers ask for, 0 when they name none.
func pauseFor(h http.Header, now time.Time) time.Duration {
	if d := RetryAfter(h.Get("Retry-After"), now); d > 0 {
		return d
	}
	return RetryAfter(h.Get("RateLimit-Reset"), now)
}
