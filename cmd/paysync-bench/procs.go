package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paysync/paysync/config"
	"github.com/paysync/paysync/internal/app"
)

// workerCommand is the hidden first argument that makes the bench a worker
// process: what `paysync serve --role=worker` runs (sync workers, the
// sync-run driver and the reconciler), configured by the environment, so
// that scenarios measure separate OS processes sharing Redis and a
// worker's own memory.
const workerCommand = "__worker"

// runWorkerProcess serves until SIGTERM, and writes "ready" on stdout once
// its asynq server runs.
func runWorkerProcess(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := app.New(ctx, cfg, log, io.Discard)
	if err != nil {
		return err
	}
	defer a.Close()
	stop, err := a.StartWorker(ctx)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintln(stdout, "ready")
	<-ctx.Done()
	return nil
}

// workerProc is a worker process the bench started.
type workerProc struct {
	cmd  *exec.Cmd
	done chan error
}

// startWorkers starts n worker processes with env and waits until each runs.
func startWorkers(ctx context.Context, n int, env map[string]string, stderr io.Writer) ([]*workerProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	list := []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range keys {
		list = append(list, k+"="+env[k])
	}
	var procs []*workerProc
	for range n {
		cmd := exec.Command(self, workerCommand)
		cmd.Env = list
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			stopWorkers(procs)
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			stopWorkers(procs)
			return nil, err
		}
		p := &workerProc{cmd: cmd, done: make(chan error, 1)}
		procs = append(procs, p)
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			ok := sc.Scan() && sc.Text() == "ready"
			ready <- ok
			_, _ = io.Copy(io.Discard, out)
			p.done <- cmd.Wait()
		}()
		select {
		case ok := <-ready:
			if !ok {
				stopWorkers(procs)
				return nil, errors.New("a worker process failed to start (see stderr)")
			}
		case <-time.After(30 * time.Second):
			stopWorkers(procs)
			return nil, errors.New("a worker process did not start within 30s")
		case <-ctx.Done():
			stopWorkers(procs)
			return nil, ctx.Err()
		}
	}
	return procs, nil
}

// stopWorkers ends the processes with SIGTERM (SIGKILL after 15 s).
func stopWorkers(procs []*workerProc) {
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// procStatus reads a VmHWM or VmRSS figure (KiB) of process pid.
func procStatus(pid int, field string) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
