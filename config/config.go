// Package config loads paysync's configuration from the environment and an
// optional YAML file, and validates it so that a bad setting stops start-up
// with one line naming the field.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paysync/paysync"
)

// DefaultOrganization is the organization PAYSYNC_API_KEY authenticates.
const DefaultOrganization = "default"

// Var is an environment variable Load reads, for the commands' --help.
type Var struct {
	Name, Default, Usage string
}

// Vars are every environment variable Load reads, in the order --help
// lists them.
var Vars = []Var{
	{"DATABASE_URL", "paysync.db", "postgres:// URL, or a SQLite file path"},
	{"REDIS_URL", "in-process Redis", "redis://, rediss:// or redis-sentinel:// URL"},
	{"REDIS_CLUSTER_ADDRS", "", "comma-separated Redis Cluster nodes, instead of REDIS_URL"},
	{"PAYSYNC_ADDR", ":8080", "listen address"},
	{"PAYSYNC_PUBLIC_URL", "http://localhost:<port>", "where browsers and providers reach paysync"},
	{"PAYSYNC_API_KEY", "generated once", "a key of the organization default"},
	{"PAYSYNC_CONFIG", "", "YAML file: organizations, keys, provider connections"},
	{"PAYSYNC_QUEUE", "paysync", "asynq queue names: <name>:critical, <name>, <name>:bulk"},
	{"PAYSYNC_LOG_FORMAT", "text", "text or json"},
	{"PAYSYNC_INLINE_TIMEOUT", "10s", "bound on a sync: true request's provider work"},
	{"PAYSYNC_CONCURRENCY", "20", "jobs one worker runs at once"},
	{"PAYSYNC_BULK_WINDOW", "256", "sync runs' tasks of one connection queued or running at once (a rate-limited connection: at most a second of its bulk pace)"},
	{"PAYSYNC_LIVE_SHARE", "0.2", "share of a connection's rate_limit sync runs leave to live work"},
	{"PAYSYNC_POLL_INTERVAL", "20ms", "how often an idle worker looks for tasks"},
	{"PAYSYNC_MAX_RETRY", "20", "retries of a retryable sync"},
	{"PAYSYNC_RETRY_BASE", "1s", "first retry delay"},
	{"PAYSYNC_RETRY_MAX", "10m", "longest retry delay"},
	{"PAYSYNC_RECONCILE_INTERVAL", "30s", "how often pending work is re-enqueued"},
	{"PAYSYNC_RECONCILE_AFTER", "1m", "how long work is pending before it is re-enqueued"},
	{"PAYSYNC_REFRESH_INTERVAL", "1h", "re-check of customers without a payment method"},
	{"PAYSYNC_WEBHOOK_MAX_RETRY", "8", "attempts at a client webhook endpoint"},
	{"PAYSYNC_WEBHOOK_ALLOW_HTTP", "false (true in sandbox mode)", "allow plain http client webhook URLs"},
	{"PAYSYNC_WEBHOOK_ALLOW_PRIVATE", "false", "allow client webhook URLs on private, loopback and link-local addresses"},
	{"PAYSYNC_SHUTDOWN_TIMEOUT", "30s", "graceful stop"},
	{"PAYSYNC_METRICS_ADDR", DefaultMetricsAddr, "/metrics, /healthz and /readyz listener of every role (off: none)"},
	{"PAYSYNC_DASHBOARD_USERS", "", "user:sha256:<hex of password>,... : operators who alone open /monitoring/"},
}

// Config is everything paysync needs to start.
type Config struct {
	Addr string
	// DatabaseURL is a postgres:// URL or a SQLite file path.
	DatabaseURL string
	// RedisURL is empty for the in-process Redis.
	RedisURL string
	// RedisClusterAddrs, when set, selects Redis Cluster instead of RedisURL.
	RedisClusterAddrs []string
	// APIKey is PAYSYNC_API_KEY: a key for the default organization.
	APIKey string
	// Queue names the asynq queues (<name>:critical, <name>, <name>:bulk),
	// so that several deployments can share one Redis.
	Queue string

	Organizations []Organization

	// InlineTimeout bounds the provider work of a sync=true request.
	InlineTimeout time.Duration
	// ReconcileInterval is how often pending links are re-enqueued, and
	// ReconcileAfter how long a link must have been pending first.
	ReconcileInterval time.Duration
	ReconcileAfter    time.Duration
	// Concurrency is the number of sync jobs one worker runs at once.
	Concurrency int
	// BulkWindow is the most sync runs' tasks of one connection queued or
	// running at once, all runs together (a rate-limited connection gets
	// about a second of its bulk pace): enough to keep the workers busy
	// between the driver's passes. Live work keeps its slots through the
	// queues' weights, and its rate budget through LiveShare.
	BulkWindow int
	// LiveShare is the share (0 to 1) of a connection's rate_limit that
	// sync runs leave to live work.
	LiveShare float64
	// PollInterval is how often an idle worker looks for tasks.
	PollInterval time.Duration
	// MaxRetry is how many times a retryable sync is retried before it fails.
	MaxRetry int
	// RetryBase is the first retry delay; it doubles up to RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration
	// RefreshInterval is how often a synced customer without a payment
	// method is re-checked at its provider.
	RefreshInterval time.Duration
	// WebhookMaxRetry bounds the attempts of one client webhook delivery.
	WebhookMaxRetry int
	// PublicURL is where browsers and providers reach this server: the base
	// of provider webhook URLs and of the sandbox setup pages.
	PublicURL string
	// LogFormat is text or json.
	LogFormat string
	// WebhookAllowHTTP accepts http client webhook URLs
	// (PAYSYNC_WEBHOOK_ALLOW_HTTP; on by default in sandbox mode), and
	// WebhookAllowPrivate loopback, private and link-local addresses
	// (PAYSYNC_WEBHOOK_ALLOW_PRIVATE).
	WebhookAllowHTTP    bool
	WebhookAllowPrivate bool
	// MetricsAddr serves /metrics, /healthz and /readyz in every role
	// (PAYSYNC_METRICS_ADDR); "" when turned off.
	MetricsAddr string
	// DashboardUsers are the operators who alone open /monitoring/, by
	// user name to the SHA-256 of their password (PAYSYNC_DASHBOARD_USERS).
	DashboardUsers map[string][32]byte
}

// Organization is a tenant from the configuration file.
type Organization struct {
	Name        string       `yaml:"name"`
	APIKeys     []string     `yaml:"api_keys"`
	Connections []Connection `yaml:"connections"`
	// WebhookURLs are client webhook endpoints ensured at start-up.
	WebhookURLs []string `yaml:"webhook_urls"`
	// WebhookHMACKey signs client webhooks (X-Lago-Signature); generated when unset.
	WebhookHMACKey string `yaml:"webhook_hmac_key"`
}

// Connection is a provider connection from the configuration file.
type Connection struct {
	Provider         string            `yaml:"provider"`
	Code             string            `yaml:"code"`
	Credentials      map[string]string `yaml:"credentials"`
	BaseURL          string            `yaml:"base_url"`
	RateLimit        float64           `yaml:"rate_limit"`
	SyncNewCustomers bool              `yaml:"sync_new_customers"`
	// ReturnURL is where setup pages send the end customer when done.
	ReturnURL string `yaml:"return_url"`
	// SetupLinkOnCreate generates a setup link once the provider customer exists.
	SetupLinkOnCreate bool `yaml:"setup_link_on_create"`
	// Timeout bounds one provider call ("10s"); the registry's default when empty.
	Timeout string `yaml:"timeout"`
	// CallTimeout is Timeout parsed.
	CallTimeout time.Duration `yaml:"-"`
}

type file struct {
	Organizations []Organization `yaml:"organizations"`
}

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (*Config, error) {
	c := &Config{
		Addr:        envOr(getenv, "PAYSYNC_ADDR", ":8080"),
		DatabaseURL: envOr(getenv, "DATABASE_URL", "paysync.db"),
		RedisURL:    getenv("REDIS_URL"),
		APIKey:      getenv("PAYSYNC_API_KEY"),
		Queue:       envOr(getenv, "PAYSYNC_QUEUE", "paysync"),
		LogFormat:   envOr(getenv, "PAYSYNC_LOG_FORMAT", "text"),
	}
	if v := getenv("REDIS_CLUSTER_ADDRS"); v != "" {
		c.RedisClusterAddrs = strings.Split(v, ",")
	}
	durations := []struct {
		env string
		dst *time.Duration
		def time.Duration
	}{
		{"PAYSYNC_INLINE_TIMEOUT", &c.InlineTimeout, 10 * time.Second},
		{"PAYSYNC_RECONCILE_INTERVAL", &c.ReconcileInterval, 30 * time.Second},
		{"PAYSYNC_RECONCILE_AFTER", &c.ReconcileAfter, time.Minute},
		{"PAYSYNC_POLL_INTERVAL", &c.PollInterval, 20 * time.Millisecond},
		{"PAYSYNC_RETRY_BASE", &c.RetryBase, time.Second},
		{"PAYSYNC_RETRY_MAX", &c.RetryMax, 10 * time.Minute},
		{"PAYSYNC_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, 30 * time.Second},
		{"PAYSYNC_REFRESH_INTERVAL", &c.RefreshInterval, time.Hour},
	}
	for _, d := range durations {
		*d.dst = d.def
		if v := getenv(d.env); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed <= 0 {
				return nil, fmt.Errorf("config: %s: %q is not a positive duration such as 10s", d.env, v)
			}
			*d.dst = parsed
		}
	}
	ints := []struct {
		env string
		dst *int
		def int
	}{
		{"PAYSYNC_CONCURRENCY", &c.Concurrency, 20},
		{"PAYSYNC_BULK_WINDOW", &c.BulkWindow, 256},
		{"PAYSYNC_MAX_RETRY", &c.MaxRetry, 20},
		{"PAYSYNC_WEBHOOK_MAX_RETRY", &c.WebhookMaxRetry, 8},
	}
	for _, i := range ints {
		*i.dst = i.def
		if v := getenv(i.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (n == 0 && (i.env == "PAYSYNC_CONCURRENCY" || i.env == "PAYSYNC_BULK_WINDOW")) {
				return nil, fmt.Errorf("config: %s: %q is not a valid count", i.env, v)
			}
			*i.dst = n
		}
	}
	c.LiveShare = 0.2
	if v := getenv("PAYSYNC_LIVE_SHARE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f < 1) { // NaN too
			return nil, fmt.Errorf("config: PAYSYNC_LIVE_SHARE: %q is not a share from 0 to below 1, such as 0.2", v)
		}
		c.LiveShare = f
	}
	c.PublicURL = strings.TrimSuffix(envOr(getenv, "PAYSYNC_PUBLIC_URL", defaultPublicURL(c.Addr)), "/")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("config: PAYSYNC_PUBLIC_URL: %q is not an http(s) URL", c.PublicURL)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("config: PAYSYNC_LOG_FORMAT: %q is not text or json", c.LogFormat)
	}
	if c.RedisURL != "" {
		// The value is not echoed: it may carry a password.
		if _, err := url.Parse(c.RedisURL); err != nil || !strings.Contains(c.RedisURL, "://") {
			return nil, fmt.Errorf("config: REDIS_URL: not a redis:// URL")
		}
	}
	if path := getenv("PAYSYNC_CONFIG"); path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: PAYSYNC_CONFIG: %v", err)
		}
		orgs, err := parseFile(raw, getenv)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %v", path, err)
		}
		c.Organizations = orgs
	}
	if err := c.loadEgress(getenv); err != nil {
		return nil, err
	}
	if err := c.loadOps(getenv); err != nil {
		return nil, err
	}
	return c, nil
}

// defaultPublicURL is the listen address as a local browser reaches it.
func defaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} references; an unset variable is an error, so a
// missing secret never becomes an empty credential silently.
func expand(field, v string, getenv func(string) string) (string, error) {
	var missing string
	out := envRef.ReplaceAllStringFunc(v, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		val := getenv(name)
		if val == "" && missing == "" {
			missing = name
		}
		return val
	})
	if missing != "" {
		return "", fmt.Errorf("%s: environment variable %s is not set", field, missing)
	}
	return out, nil
}

var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func parseFile(raw []byte, getenv func(string) string) ([]Organization, error) {
	var f file
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		// yaml.v3 lists problems on several lines; start-up errors are one line.
		return nil, fmt.Errorf("%s", strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " "))
	}
	names := map[string]bool{}
	for i := range f.Organizations {
		o := &f.Organizations[i]
		at := fmt.Sprintf("organizations[%d]", i)
		if o.Name == "" {
			return nil, fmt.Errorf("%s.name is required", at)
		}
		if names[o.Name] {
			return nil, fmt.Errorf("%s.name: %q is used twice", at, o.Name)
		}
		names[o.Name] = true
		for j, k := range o.APIKeys {
			field := fmt.Sprintf("%s.api_keys[%d]", at, j)
			v, err := expand(field, k, getenv)
			if err != nil {
				return nil, err
			}
			if len(v) < 16 {
				return nil, fmt.Errorf("%s: an API key needs at least 16 characters", field)
			}
			o.APIKeys[j] = v
		}
		for j, u := range o.WebhookURLs {
			if !isHTTPURL(u) {
				return nil, fmt.Errorf("%s.webhook_urls[%d]: %q is not an http(s) URL", at, j, u)
			}
		}
		if o.WebhookHMACKey != "" {
			v, err := expand(at+".webhook_hmac_key", o.WebhookHMACKey, getenv)
			if err != nil {
				return nil, err
			}
			o.WebhookHMACKey = v
		}
		codes := map[string]bool{}
		for j := range o.Connections {
			cn := &o.Connections[j]
			cat := fmt.Sprintf("%s.connections[%d]", at, j)
			if _, ok := paysync.ParseProviderKind(cn.Provider); !ok {
				return nil, fmt.Errorf("%s.provider: %q is not one of stripe, adyen, gocardless, braintree", cat, cn.Provider)
			}
			if cn.Code == "" {
				cn.Code = cn.Provider
			}
			if !codePattern.MatchString(cn.Code) {
				return nil, fmt.Errorf("%s.code: %q must be letters, digits, '_', '-' or '.'", cat, cn.Code)
			}
			if codes[cn.Code] {
				return nil, fmt.Errorf("%s.code: %q is used twice in organization %q", cat, cn.Code, o.Name)
			}
			codes[cn.Code] = true
			for k, v := range cn.Credentials {
				val, err := expand(cat+".credentials."+k, v, getenv)
				if err != nil {
					return nil, err
				}
				cn.Credentials[k] = val
			}
			if cn.BaseURL != "" && !isHTTPURL(cn.BaseURL) {
				return nil, fmt.Errorf("%s.base_url: %q is not an http(s) URL", cat, cn.BaseURL)
			}
			if cn.RateLimit < 0 {
				return nil, fmt.Errorf("%s.rate_limit: must not be negative", cat)
			}
			if cn.ReturnURL != "" && !isHTTPURL(cn.ReturnURL) {
				return nil, fmt.Errorf("%s.return_url: %q is not an http(s) URL", cat, cn.ReturnURL)
			}
			if cn.Timeout != "" {
				d, err := time.ParseDuration(cn.Timeout)
				if err != nil || d <= 0 {
					return nil, fmt.Errorf("%s.timeout: %q is not a positive duration such as 10s", cat, cn.Timeout)
				}
				cn.CallTimeout = d
			}
		}
	}
	return f.Organizations, nil
}

// DomainConnections turns an organization's configured connections into domain
// connections for orgID.
func (o Organization) DomainConnections(orgID string) []paysync.Connection {
	out := make([]paysync.Connection, 0, len(o.Connections))
	for _, c := range o.Connections {
		out = append(out, paysync.Connection{
			OrganizationID: orgID, Provider: paysync.ProviderKind(c.Provider), Code: c.Code,
			Credentials: c.Credentials, BaseURL: c.BaseURL, RateLimit: c.RateLimit,
			SyncNewCustomers: c.SyncNewCustomers, ReturnURL: c.ReturnURL, SetupLinkOnCreate: c.SetupLinkOnCreate,
			Timeout: c.CallTimeout,
		})
	}
	return out
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// HasConnections reports whether any organization configures a connection;
// with none, paysync runs sandbox connections.
func (c *Config) HasConnections() bool {
	for _, o := range c.Organizations {
		if len(o.Connections) > 0 {
			return true
		}
	}
	return false
}

// Redact returns a database or Redis URL fit for an error message: the
// password replaced with "xxxxx". A value that is not a URL (a SQLite path)
// is returned as is; one that does not parse is not echoed at all.
func Redact(v string) string {
	if !strings.Contains(v, "://") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil {
		scheme, _, _ := strings.Cut(v, "://")
		return scheme + "://(unparsable URL)"
	}
	return u.Redacted()
}
