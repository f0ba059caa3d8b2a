package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynqmon"

	"github.com/paysync/paysync/config"
	"github.com/paysync/paysync/internal/app"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newCommand("serve", "serve [--role=all|api|worker]",
		"Serves the customer API and the retry dashboard (api), runs the sync workers and the\nreconciler (worker), or both (all). Without provider connections in PAYSYNC_CONFIG it\nserves sandbox connections from in-process emulators.", allVars)
	role := c.fs.String("role", "all", "all, api or worker")
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	runAPI, runWorker := *role == "all" || *role == "api", *role == "all" || *role == "worker"
	if !runAPI && !runWorker {
		return &usageError{fmt.Sprintf("paysync serve: --role: %q is not all, api or worker\n%s", *role, c.usage())}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if *role != "all" {
		// The in-process Redis and the sandbox emulators live inside one
		// process: split roles would each get their own.
		if cfg.RedisURL == "" && len(cfg.RedisClusterAddrs) == 0 {
			return fmt.Errorf("--role=%s: set REDIS_URL: an in-process Redis cannot be shared by separate processes", *role)
		}
		if !cfg.HasConnections() {
			return fmt.Errorf("--role=%s: configure provider connections (PAYSYNC_CONFIG): sandbox emulators live inside one process; run `paysync serve` for the sandbox", *role)
		}
	}
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		// Every role, the worker included, answers probes and scrapes
		// there. It is opened before anything else so that a taken port
		// stops start-up with nothing to undo.
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("PAYSYNC_METRICS_ADDR: %w", err)
		}
		defer metricsLn.Close() // when start-up fails before it is served
	}
	log := app.NewLogger(cfg, stderr)
	a, err := app.New(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer a.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	if metricsLn != nil {
		stop := serveHTTP(ctx, metricsLn, a.OpsHandler(), cfg.ShutdownTimeout, errc)
		defer stop()
		log.Info("metrics and health listening", "addr", metricsLn.Addr().String(), "paths", "/metrics /healthz /readyz")
	}
	if a.EmbeddedRedis != nil {
		// miniredis only expires keys when told time has passed; asynq's
		// server heartbeats and unique locks rely on expiry.
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					a.EmbeddedRedis.FastForward(time.Second)
				}
			}
		}()
	}
	if runWorker {
		stop, err := a.StartWorker(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	if runAPI {
		mon := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: a.RedisOpt})
		defer mon.Close()
		handler := a.Handler(mon)
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("PAYSYNC_ADDR: %w", err)
		}
		log.Info("paysync listening", "addr", ln.Addr().String(), "role", *role)
		stop := serveHTTP(ctx, ln, handler, cfg.ShutdownTimeout, errc)
		defer stop()
	} else {
		log.Info("paysync worker running", "role", *role)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-errc:
		return err
	}
}

// serveHTTP serves h on ln until the returned stop, which shuts the server
// down gracefully within timeout; a serve failure goes to errc.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, timeout time.Duration, errc chan<- error) (stop func()) {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	return func() {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer scancel()
		_ = hs.Shutdown(sctx)
	}
}
