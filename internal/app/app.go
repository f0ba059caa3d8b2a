// Package app wires paysync's parts together for the commands: the store,
// Redis, the provider registry with its sandbox emulators, the queue and
// the service.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/api"
	"github.com/paysync/paysync/config"
	"github.com/paysync/paysync/internal/egress"
	"github.com/paysync/paysync/jobs"
	"github.com/paysync/paysync/providers"
	"github.com/paysync/paysync/providers/adyen"
	"github.com/paysync/paysync/providers/braintree"
	"github.com/paysync/paysync/providers/gocardless"
	"github.com/paysync/paysync/providers/stripe"
	"github.com/paysync/paysync/sandbox"
	"github.com/paysync/paysync/sandbox/adyenemu"
	"github.com/paysync/paysync/sandbox/braintreeemu"
	"github.com/paysync/paysync/sandbox/gocardlessemu"
	"github.com/paysync/paysync/sandbox/state"
	"github.com/paysync/paysync/sandbox/stripeemu"
	"github.com/paysync/paysync/store"
)

// App is paysync's wired-up parts, shared by the commands.
type App struct {
	Config   *config.Config
	Logger   *slog.Logger
	DB       *store.DB
	RedisOpt asynq.RedisConnOpt
	Redis    redis.UniversalClient
	// EmbeddedRedis is set when no REDIS_URL is configured.
	EmbeddedRedis *miniredis.Miniredis
	StartedAt     time.Time
	Sandbox       map[paysync.ProviderKind]http.Handler
	Registry      *providers.Registry
	Queue         *jobs.Queue
	Syncer        *jobs.Syncer
	Outbox        *jobs.Outbox
	Handlers      jobs.Handlers
	Emulators     Emulators
	Service       *paysync.Service
	closers       []func() error
}

// NewLogger returns the logger the configuration asks for.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// connectTimeout bounds connecting to the database or Redis at start-up,
// so that a server that drops packets fails start-up instead of hanging it.
const connectTimeout = 15 * time.Second

// OpenStore opens and migrates the database.
func OpenStore(ctx context.Context, cfg *config.Config) (*store.DB, error) {
	db, err := Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("DATABASE_URL %s: migrate: %w", config.Redact(cfg.DatabaseURL), err)
	}
	return db, nil
}

// Connect opens the database without migrating it. Its error names
// DATABASE_URL without the password.
func Connect(ctx context.Context, cfg *config.Config) (*store.DB, error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	db, err := store.Open(cctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL %s: %w", config.Redact(cfg.DatabaseURL), err)
	}
	return db, nil
}

// New opens the database and Redis, ensures organizations and keys, and
// builds the provider registry, the queue and the service. On error it has
// closed whatever it opened.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) (*App, error) {
	a := &App{Config: cfg, Logger: log, StartedAt: time.Now()}
	if err := a.build(ctx, stdout); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context, stdout io.Writer) (err error) {
	cfg, log := a.Config, a.Logger
	if a.DB, err = OpenStore(ctx, cfg); err != nil {
		return err
	}
	a.closers = append(a.closers, a.DB.Close)
	if err := a.openRedis(ctx); err != nil {
		return err
	}
	conns, err := a.ensureOrganizations(ctx, stdout)
	if err != nil {
		return err
	}
	factories := map[paysync.ProviderKind]providers.Factory{
		paysync.Stripe: func(c paysync.Connection, h *http.Client) (paysync.Provider, error) { return stripe.New(c, h) },
		paysync.Adyen:  func(c paysync.Connection, h *http.Client) (paysync.Provider, error) { return adyen.New(c, h) },
		paysync.GoCardless: func(c paysync.Connection, h *http.Client) (paysync.Provider, error) {
			return gocardless.New(c, h)
		},
		paysync.Braintree: func(c paysync.Connection, h *http.Client) (paysync.Provider, error) { return braintree.New(c, h) },
	}
	if err := a.newEmulators(ctx); err != nil {
		return err
	}
	inProcess := map[string]http.Handler{}
	for kind, h := range a.Sandbox {
		inProcess[a.sandboxURL(kind)] = h
	}
	if a.Registry, err = providers.NewRegistry(conns, factories, providers.Options{InProcess: inProcess, Redis: a.Redis, LiveShare: cfg.LiveShare}); err != nil {
		return fmt.Errorf("PAYSYNC_CONFIG: %w", err)
	}
	jobOpts := jobs.Options{Queue: cfg.Queue, MaxRetry: cfg.MaxRetry, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax, Retention: 24 * time.Hour}
	client := asynq.NewClientFromRedisClient(a.Redis)
	inspector := asynq.NewInspectorFromRedisClient(a.Redis)
	a.Queue = &jobs.Queue{Client: client, Inspector: inspector, Options: jobOpts}
	a.Outbox = &jobs.Outbox{Store: a.DB, Notifications: a.DB, Endpoints: a.DB, Queue: a.Queue, Render: api.LagoCustomer, MaxRetry: cfg.WebhookMaxRetry}
	a.Syncer = &jobs.Syncer{Store: a.DB, Connections: a.Registry, Outbox: a.Outbox, Queue: a.Queue, Logger: log}
	a.Service = &paysync.Service{
		Store: a.DB, Connections: a.Registry, Queue: a.Queue, Syncer: a.Syncer,
		InlineTimeout: cfg.InlineTimeout, Logger: log, Notifier: a.Outbox, Runs: a.DB,
	}
	a.Handlers = jobs.Handlers{
		Sync:       a.Syncer,
		Refresh:    &jobs.Refresher{Store: a.DB, Inbox: a.DB, PaymentMethods: a.DB, Connections: a.Registry, Outbox: a.Outbox, Logger: log},
		Deliver:    &jobs.Deliverer{Deliveries: a.DB, Endpoints: a.DB, Client: jobs.NewDeliveryClient(a.Egress()), Keys: a.DB, Issuer: cfg.PublicURL},
		SetupLinks: &jobs.SetupLinks{Store: a.DB, Service: a.Service},
	}
	return nil
}

// Emulators are the in-process providers behind sandbox connections.
type Emulators struct {
	Stripe     *stripeemu.Emulator
	Adyen      *adyenemu.Emulator
	GoCardless *gocardlessemu.Emulator
	Braintree  *braintreeemu.Emulator
}

// newEmulators builds the emulators. In sandbox mode they keep their
// objects in paysync's database (package sandbox/state), so that setup
// links and payment methods outlive a restart.
func (a *App) newEmulators(ctx context.Context) error {
	public := a.Config.PublicURL + "/sandbox/"
	var st func(kind paysync.ProviderKind) *state.Store
	if a.SandboxMode() {
		if err := state.Open(ctx, a.DB.SQL()); err != nil {
			return err
		}
		st = func(kind paysync.ProviderKind) *state.Store {
			s := state.New(a.DB.SQL(), string(kind))
			s.OnError = func(err error) { a.Logger.Warn("sandbox state not saved", "err", err) }
			return s
		}
	} else {
		st = func(paysync.ProviderKind) *state.Store { return nil }
	}
	var e Emulators
	var err error
	if e.Braintree, err = braintreeemu.NewWithState(ctx, st(paysync.Braintree)); err != nil {
		return err
	}
	if e.Adyen, err = adyenemu.NewWithState(ctx, st(paysync.Adyen)); err != nil {
		return err
	}
	if e.Stripe, err = stripeemu.NewWithState(ctx, st(paysync.Stripe)); err != nil {
		return err
	}
	if e.GoCardless, err = gocardlessemu.NewWithState(ctx, st(paysync.GoCardless)); err != nil {
		return err
	}
	// Setup pages are opened by a browser: their links point at this
	// server's /sandbox/{provider}/ mount.
	e.Adyen.PublicURL = public + string(paysync.Adyen)
	e.GoCardless.PublicURL = public + string(paysync.GoCardless)
	a.Emulators = e
	a.Sandbox = map[paysync.ProviderKind]http.Handler{
		paysync.Stripe: e.Stripe, paysync.Adyen: e.Adyen, paysync.GoCardless: e.GoCardless, paysync.Braintree: e.Braintree,
	}
	return nil
}

// Handler is the HTTP server of the api role. The sandbox emulators send
// their signed webhooks straight into it, without a network hop.
func (a *App) Handler(monitoring http.Handler) http.Handler {
	// The emulators are only served in sandbox mode: they take any test key.
	sandbox := map[string]http.Handler{}
	if a.SandboxMode() {
		for kind, h := range a.Sandbox {
			sandbox[string(kind)] = h
		}
	}
	h := api.NewServer(api.Deps{
		Service: a.Service, Store: a.DB, Logger: a.Logger, Ready: a.Ready,
		Monitoring: monitoring, MonitoringOrganization: config.DefaultOrganization, DashboardUsers: a.Config.DashboardUsers,
		Sandbox: sandbox, Notify: a.DB, Inbox: a.Queue, SandboxConnections: a.Registry.Sandboxes,
		Egress:      a.Egress(),
		Runs:        a.DB,
		WebhookKeys: a.DB, Portals: a.DB, PublicURL: a.Config.PublicURL,
	})
	client := &http.Client{Transport: providers.HandlerTransport{Handler: h}, Timeout: 10 * time.Second}
	target := func(kind paysync.ProviderKind) string {
		return a.Config.PublicURL + "/webhooks/sandbox/" + string(kind)
	}
	a.Emulators.Stripe.SendWebhooks(target(paysync.Stripe), client, stripeemu.SandboxWebhookSecret)
	a.Emulators.Adyen.SendWebhooks(target(paysync.Adyen), client, adyenemu.SandboxWebhookSecret)
	a.Emulators.GoCardless.SendWebhooks(target(paysync.GoCardless), client, gocardlessemu.SandboxWebhookSecret)
	// Braintree has no webhook secret: it signs with its own API keys.
	a.Emulators.Braintree.SendWebhooks(target(paysync.Braintree), client, "")
	return h
}

// openRedis connects to the configured Redis (or starts the in-process one)
// and checks that it answers: a Redis that is down at start-up is a
// configuration error worth stopping for, unlike one that goes away later.
func (a *App) openRedis(ctx context.Context) error {
	field := "REDIS_URL " + config.Redact(a.Config.RedisURL)
	switch {
	case len(a.Config.RedisClusterAddrs) > 0:
		field = "REDIS_CLUSTER_ADDRS " + strings.Join(a.Config.RedisClusterAddrs, ",")
		a.RedisOpt = asynq.RedisClusterClientOpt{Addrs: a.Config.RedisClusterAddrs}
	case a.Config.RedisURL != "":
		opt, err := asynq.ParseRedisURI(a.Config.RedisURL)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // without the URL, which may carry a password
			}
			return fmt.Errorf("%s: %w", field, err)
		}
		a.RedisOpt = opt
	default:
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("in-process redis: %w", err)
		}
		a.EmbeddedRedis = mr
		a.closers = append(a.closers, func() error { mr.Close(); return nil })
		a.RedisOpt = asynq.RedisClientOpt{Addr: mr.Addr()}
		a.Logger.Warn("REDIS_URL is not set: using an in-process Redis. The queue is NOT durable: " +
			"pending syncs are re-enqueued from the database on restart, but set REDIS_URL for production")
	}
	rc, ok := a.RedisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return fmt.Errorf("%s: unsupported redis connection", field)
	}
	a.Redis = rc
	a.closers = append(a.closers, rc.Close)
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := rc.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// ensureOrganizations creates the configured organizations and their keys,
// and returns every provider connection (sandbox ones when none is configured).
func (a *App) ensureOrganizations(ctx context.Context, stdout io.Writer) ([]paysync.Connection, error) {
	orgs := a.Config.Organizations
	hasDefault := false
	for _, o := range orgs {
		hasDefault = hasDefault || o.Name == config.DefaultOrganization
	}
	if !hasDefault {
		orgs = append([]config.Organization{{Name: config.DefaultOrganization}}, orgs...)
	}
	sandboxed := !a.Config.HasConnections()
	var conns []paysync.Connection
	for _, o := range orgs {
		org, err := a.DB.EnsureOrganization(ctx, o.Name)
		if err != nil {
			return nil, err
		}
		keys := o.APIKeys
		if o.Name == config.DefaultOrganization && a.Config.APIKey != "" {
			keys = append(keys, a.Config.APIKey)
		}
		for _, k := range keys {
			if err := a.DB.AddAPIKey(ctx, org.ID, api.HashKey(k)); err != nil {
				return nil, err
			}
		}
		if err := a.ensureWebhooks(ctx, org.ID, o); err != nil {
			return nil, err
		}
		if o.Name == config.DefaultOrganization && len(keys) == 0 {
			if err := a.firstKey(ctx, org, stdout); err != nil {
				return nil, err
			}
		}
		if !sandboxed {
			for _, c := range o.DomainConnections(org.ID) {
				if c.ReturnURL == "" {
					c.ReturnURL = a.Config.PublicURL + api.SetupDonePath
				}
				conns = append(conns, c)
			}
			continue
		}
		for _, kind := range paysync.ProviderKinds {
			// The base URL is where this server mounts the emulator, so that
			// the links it makes open in a browser; the calls themselves stay
			// in-process.
			// The sandbox Stripe connection takes every new customer that
			// names no provider, so that a client whose requests carry no
			// provider fields (Flexprice) reaches a provider out of the box.
			conns = append(conns, paysync.Connection{OrganizationID: org.ID, Provider: kind, Code: string(kind), Sandbox: true,
				Credentials: sandbox.Credentials(kind), BaseURL: a.sandboxURL(kind), ReturnURL: a.Config.PublicURL + api.SetupDonePath,
				SyncNewCustomers: kind == paysync.Stripe})
		}
	}
	if sandboxed {
		a.Logger.Info("no provider connection configured: serving sandbox connections for stripe, adyen, gocardless and braintree from in-process emulators")
	}
	return conns, nil
}

// sandboxURL is where this server mounts the emulator of kind.
func (a *App) sandboxURL(kind paysync.ProviderKind) string {
	return a.Config.PublicURL + "/sandbox/" + string(kind)
}

// ensureWebhooks adds the configured client webhook endpoints and HMAC key.
func (a *App) ensureWebhooks(ctx context.Context, orgID string, o config.Organization) error {
	for _, u := range o.WebhookURLs {
		if err := a.Egress().CheckURL(ctx, u); err != nil {
			return fmt.Errorf("webhook_urls: %w", err)
		}
		err := a.DB.AddWebhookEndpoint(ctx, &paysync.WebhookEndpoint{OrganizationID: orgID, URL: u, SignatureAlgo: "hmac"})
		if err != nil && paysync.ErrorCode(err) != paysync.ECONFLICT {
			return fmt.Errorf("webhook_urls: %w", err)
		}
	}
	if o.WebhookHMACKey != "" {
		return a.DB.SetWebhookHMACKey(ctx, orgID, o.WebhookHMACKey)
	}
	return nil
}

// firstKey generates the default organization's first key, prints it once
// and keeps only its hash.
func (a *App) firstKey(ctx context.Context, org *paysync.Organization, stdout io.Writer) error {
	n, err := a.DB.CountAPIKeys(ctx, org.ID)
	if err != nil || n > 0 {
		return err
	}
	key, err := NewKey()
	if err != nil {
		return err
	}
	if err := a.DB.AddAPIKey(ctx, org.ID, api.HashKey(key)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nGenerated an API key for organization %q (shown once, only its hash is stored):\n\n    %s\n\n", org.Name, key)
	return nil
}

// NewKey returns a fresh random API key.
func NewKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "ps_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Ready reports whether the database and Redis answer.
// Its error names the dependency only: /readyz is unauthenticated, and the
// driver's error (hosts, users) goes to the log.
func (a *App) Ready(ctx context.Context) error {
	if err := a.DB.Ping(ctx); err != nil {
		a.Logger.Warn("readiness: database unavailable", "err", err)
		return errors.New("database unavailable")
	}
	if err := a.Redis.Ping(ctx).Err(); err != nil {
		a.Logger.Warn("readiness: redis unavailable", "err", err)
		return errors.New("redis unavailable")
	}
	return nil
}

// Egress is where client webhooks may go, as configured.
func (a *App) Egress() egress.Policy {
	return egress.Policy{AllowHTTP: a.Config.WebhookAllowHTTP, AllowPrivate: a.Config.WebhookAllowPrivate}
}

// SandboxMode reports whether the providers are the in-process emulators.
func (a *App) SandboxMode() bool { return !a.Config.HasConnections() }

// Close releases everything New opened. It is safe on a nil or partly
// built App, and more than once.
func (a *App) Close() {
	if a == nil {
		return
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
	a.closers = nil
}
