package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/paysync/paysync/config"
)

// healthcheck GETs a health URL: the container image has no curl or wget.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := newCommand("healthcheck", "healthcheck [--url=URL] [--timeout=D]",
		"GETs a health URL and exits 0 when it answers 2xx, 1 otherwise: a probe for containers,\nwhose image has no curl. The default URL is /healthz on PAYSYNC_ADDR's port on loopback.",
		[]config.Var{{Name: "PAYSYNC_ADDR", Default: ":8080", Usage: "the port of the default --url"}})
	u := c.fs.String("url", "", "the URL to GET (default http://127.0.0.1:<PAYSYNC_ADDR port>/healthz)")
	timeout := c.fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	if *u == "" {
		*u = defaultHealthURL(getenv("PAYSYNC_ADDR"))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *u, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: --url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("healthcheck: %s answered %s", *u, resp.Status)
	}
	return nil
}

func defaultHealthURL(addr string) string {
	port := "8080"
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "" {
		port = p
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz"
}
