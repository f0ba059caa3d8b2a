package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"
)

// DefaultMetricsAddr is where /metrics, /healthz and /readyz are served
// when PAYSYNC_METRICS_ADDR is unset: a port of its own, never the API's.
const DefaultMetricsAddr = ":9090"

// loadOps reads the operator settings: the metrics listener and the
// dashboard's operator credentials.
func (c *Config) loadOps(getenv func(string) string) error {
	c.MetricsAddr = envOr(getenv, "PAYSYNC_METRICS_ADDR", DefaultMetricsAddr)
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	if c.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil {
			return fmt.Errorf("config: PAYSYNC_METRICS_ADDR: %q is not host:port, :port or off", c.MetricsAddr)
		}
		// Metrics and probes are for the operator's network, not the API's
		// clients: they never share its port.
		if _, apiPort, err := net.SplitHostPort(c.Addr); err == nil && port == apiPort && port != "0" {
			return fmt.Errorf("config: PAYSYNC_METRICS_ADDR: %q uses PAYSYNC_ADDR's port %s; metrics are never served on the API port", c.MetricsAddr, port)
		}
	}
	users, err := parseDashboardUsers(getenv("PAYSYNC_DASHBOARD_USERS"))
	if err != nil {
		return err
	}
	c.DashboardUsers = users
	return nil
}

// parseDashboardUsers reads "user:sha256:<hex>" entries, comma-separated.
// Only the password's SHA-256 is configured, so that the environment
// holds no password. SHA-256 rather than bcrypt because no bcrypt is
// among paysync's dependencies; an operator password should be long and
// random (openssl rand -base64 24), which no dictionary attack on an
// unsalted hash reaches. The value is never echoed in errors.
func parseDashboardUsers(v string) (map[string][32]byte, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	users := map[string][32]byte{}
	for i, entry := range strings.Split(v, ",") {
		user, hash, ok := strings.Cut(strings.TrimSpace(entry), ":sha256:")
		raw, err := hex.DecodeString(hash)
		if !ok || user == "" || strings.Contains(user, ":") || err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("config: PAYSYNC_DASHBOARD_USERS: entry %d is not user:sha256:<64 hex digits> (printf %%s \"$PASSWORD\" | sha256sum)", i+1)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("config: PAYSYNC_DASHBOARD_USERS: entry %d: user %q is listed twice", i+1, user)
		}
		users[user] = [32]byte(raw)
	}
	return users, nil
}
