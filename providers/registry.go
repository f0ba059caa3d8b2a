// Package providers holds the registry of provider connections: it builds
// one adapter per connection, each behind its connection's rate limiter
// (shared by every process through Redis), and can serve a connection's
// base URL from an in-process http.Handler.
package providers

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paysync/paysync"
)

// DefaultTimeout bounds one provider call of a connection that sets no
// timeout, so that a provider that accepts connections and never answers
// cannot hold a worker slot for long. Providers answer within a few
// seconds when they are well.
const DefaultTimeout = 10 * time.Second

// Factory builds an adapter for one connection, sending through client.
type Factory func(conn paysync.Connection, client *http.Client) (paysync.Provider, error)

type connKey struct {
	org  string
	kind paysync.ProviderKind
	code string
}

// Registry implements paysync.Connections.
type Registry struct {
	conns     map[string][]paysync.Connection // by organization id
	providers map[connKey]paysync.Provider
}

var _ paysync.Connections = (*Registry)(nil)

// Options tune how adapters reach their providers.
type Options struct {
	// Transport is the base transport (http.DefaultTransport when nil).
	Transport http.RoundTripper
	// InProcess serves, by base URL, the connections whose BaseURL is a key
	// with that handler, without a network hop; the handler sees paths
	// below the URL's path.
	InProcess map[string]http.Handler
	// Redis, when set, shares each connection's rate limit (and the pauses
	// its 429s ask for) between every process using the same Redis;
	// without it each process keeps its own.
	Redis redis.UniversalClient
	// LiveShare (0 to 1) is the share of each connection's rate_limit
	// that bulk work (paysync.WithBulk) leaves to live work.
	LiveShare float64
}

// NewRegistry builds an adapter for every connection. A connection whose
// adapter cannot be built (bad credentials) fails the whole start-up, naming it.
func NewRegistry(conns []paysync.Connection, factories map[paysync.ProviderKind]Factory, opt Options) (*Registry, error) {
	r := &Registry{conns: map[string][]paysync.Connection{}, providers: map[connKey]paysync.Provider{}}
	base := opt.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	for _, c := range conns {
		k := connKey{c.OrganizationID, c.Provider, c.Code}
		if _, dup := r.providers[k]; dup {
			return nil, fmt.Errorf("connection %s/%s is configured twice", c.Provider, c.Code)
		}
		factory, ok := factories[c.Provider]
		if !ok {
			return nil, fmt.Errorf("connection %s/%s: no adapter for provider %q", c.Provider, c.Code, c.Provider)
		}
		transport := base
		if h, ok := opt.InProcess[c.BaseURL]; ok && c.BaseURL != "" {
			if u, err := url.Parse(c.BaseURL); err == nil && strings.Trim(u.Path, "/") != "" {
				h = http.StripPrefix(strings.TrimSuffix(u.Path, "/"), h)
			}
			transport = HandlerTransport{Handler: h}
		}
		transport = observed{kind: c.Provider, next: transport}
		if c.RateLimit > 0 {
			transport = &rateLimited{kind: c.Provider, limiter: newLimiter(c, opt.Redis, opt.LiveShare), next: transport}
		}
		p, err := factory(c, &http.Client{Transport: transport, Timeout: timeoutOf(c)})
		if err != nil {
			return nil, fmt.Errorf("connection %s/%s: %w", c.Provider, c.Code, err)
		}
		r.providers[k] = p
		r.conns[c.OrganizationID] = append(r.conns[c.OrganizationID], c)
	}
	for _, list := range r.conns {
		sort.SliceStable(list, func(i, j int) bool { return list[i].Code < list[j].Code })
	}
	return r, nil
}

// List implements paysync.Connections.
func (r *Registry) List(orgID string, kind paysync.ProviderKind) []paysync.Connection {
	var out []paysync.Connection
	for _, c := range r.conns[orgID] {
		if kind == "" || c.Provider == kind {
			out = append(out, c)
		}
	}
	return out
}

// Provider implements paysync.Connections.
func (r *Registry) Provider(orgID string, kind paysync.ProviderKind, code string) (paysync.Provider, error) {
	p, ok := r.providers[connKey{orgID, kind, code}]
	if !ok {
		return nil, &paysync.Error{Code: paysync.ENOTFOUND, Resource: "payment_provider",
			Message: fmt.Sprintf("no %s connection with code %q", kind, code)}
	}
	return p, nil
}

// Sandboxes lists every organization's sandbox connection of kind: the
// shared in-process emulator's webhooks concern all of them.
func (r *Registry) Sandboxes(kind paysync.ProviderKind) []paysync.Connection {
	var out []paysync.Connection
	for _, list := range r.conns {
		for _, c := range list {
			if c.Sandbox && c.Provider == kind {
				out = append(out, c)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrganizationID < out[j].OrganizationID })
	return out
}

// timeoutOf is the connection's bound on one provider call.
func timeoutOf(c paysync.Connection) time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}
