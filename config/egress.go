package config

import (
	"fmt"
	"net/url"
	"strconv"
)

// loadEgress reads the client webhook egress settings; http is allowed by
// default in sandbox mode only (no provider connection configured), and
// the configured webhook_urls must then be https.
func (c *Config) loadEgress(getenv func(string) string) error {
	c.WebhookAllowHTTP = !c.HasConnections()
	for _, b := range []struct {
		env string
		dst *bool
	}{{"PAYSYNC_WEBHOOK_ALLOW_HTTP", &c.WebhookAllowHTTP}, {"PAYSYNC_WEBHOOK_ALLOW_PRIVATE", &c.WebhookAllowPrivate}} {
		if v := getenv(b.env); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("config: %s: %q is not true or false", b.env, v)
			}
			*b.dst = on
		}
	}
	for i, o := range c.Organizations {
		for j, u := range o.WebhookURLs {
			if p, err := url.Parse(u); err == nil && p.Scheme == "http" && !c.WebhookAllowHTTP {
				return fmt.Errorf("config: organizations[%d].webhook_urls[%d]: %q is not https (PAYSYNC_WEBHOOK_ALLOW_HTTP=true allows http)", i, j, u)
			}
		}
	}
	return nil
}
