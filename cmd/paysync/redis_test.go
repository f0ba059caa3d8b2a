package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
)

// The production topologies of Redis: through Sentinel (asynq's
// redis-sentinel:// URL) and as a Cluster (REDIS_CLUSTER_ADDRS), each
// started here from the real redis-server.
func TestRedisSentinelAndCluster(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		master := startRedis(t)
		port := testenv.FreePort(t)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		masterAddr := strings.TrimSuffix(strings.TrimPrefix(master.url, "redis://"), "/0")
		host, masterPort, _ := strings.Cut(masterAddr, ":")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor paysync %s %s 1\ndir %s\n", port, host, masterPort, dir)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		testenv.StartProcess(t, dir, nil, "redis-server", conf, "--sentinel")
		testenv.WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
		syncThrough(t, map[string]string{"REDIS_URL": fmt.Sprintf("redis-sentinel://127.0.0.1:%d?master=paysync", port)})
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		var addrs []string
		for range 3 {
			port := testenv.FreePort(t)
			dir := t.TempDir()
			testenv.StartProcess(t, dir, nil, "redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
				"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--save", "", "--appendonly", "no")
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			testenv.WaitTCP(t, addr, 10*time.Second)
			addrs = append(addrs, addr)
		}
		args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
		if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
			t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
		}
		eventually(t, 20*time.Second, "the cluster to be ok", func() bool {
			out, _ := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strings.Split(addrs[0], ":")[1], "cluster", "info").Output()
			return strings.Contains(string(out), "cluster_state:ok")
		})
		syncThrough(t, map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(addrs, ",")})
	})
}

// syncThrough runs paysync on the given Redis and syncs one customer in
// the background, through the queue.
func syncThrough(t *testing.T, redis map[string]string) {
	t.Helper()
	s := startServer(t, merge(baseEnv(t), map[string]string{"DATABASE_URL": testenv.PostgresURL(t)}, redis))
	if code, _ := doJSON(t, "GET", s.URL+"/readyz", "", nil); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	s.do(t, "POST", "/api/v1/customers", seedCustomer("topology", false))
	got := s.waitStatus(t, "topology", "synced", 30*time.Second)
	if id := fmt.Sprint(billing(t, got)["provider_customer_id"]); !strings.HasPrefix(id, "cus_") {
		t.Errorf("provider_customer_id %q", id)
	}
}
