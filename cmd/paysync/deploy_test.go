package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/paysync/paysync/internal/testenv"
)

// No Docker engine runs the tests: the compose file is checked by parsing
// it. Every long-running service has a healthcheck; paysync's use its own
// healthcheck command (the image has no curl) on a port the service opens.
func TestComposeHealthchecks(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			DependsOn map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	oneShot := map[string]bool{}
	for _, s := range f.Services {
		for dep, c := range s.DependsOn {
			if c.Condition == "service_completed_successfully" {
				oneShot[dep] = true
			}
		}
	}
	if len(f.Services) < 4 {
		t.Fatalf("services: %d", len(f.Services))
	}
	for name, s := range f.Services {
		if oneShot[name] {
			continue
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] == "NONE" {
			t.Errorf("service %s has no healthcheck", name)
			continue
		}
		if s.Build == nil {
			continue
		}
		test := s.Healthcheck.Test
		if !slices.Equal(test[:3], []string{"CMD", "/paysync", "healthcheck"}) {
			t.Errorf("service %s: healthcheck %v does not use paysync healthcheck", name, test)
		}
		i := slices.Index(test, "--url")
		if i < 0 || i+1 >= len(test) {
			t.Errorf("service %s: healthcheck %v names no --url", name, test)
			continue
		}
		// The probed port is one the service listens on.
		port := test[i+1][strings.LastIndex(test[i+1], ":")+1 : strings.LastIndex(test[i+1], "/")]
		listens := !slices.Contains(s.Command, "--role=worker") && port == "8080"
		if addr := s.Environment["PAYSYNC_METRICS_ADDR"]; strings.HasSuffix(addr, ":"+port) {
			listens = true
		}
		if !listens {
			t.Errorf("service %s: healthcheck probes port %s, which it does not open", name, port)
		}
	}
}

// The image keeps its SQLite file in a /data volume its non-root user owns;
// the build context leaves out databases, node_modules and .git.
func TestContainerFiles(t *testing.T) {
	read := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), name))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	dockerfile := read("Dockerfile")
	for _, want := range []string{"ENV DATABASE_URL=/data/paysync.db", "VOLUME /data", "USER nonroot", "--chown=65532:65532 /data /data",
		`HEALTHCHECK`, `"/paysync", "healthcheck"`} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	ignore := strings.Fields(read(".dockerignore"))
	for _, want := range []string{".git", "paysync.db*", "**/node_modules", "test/sdk", "*.test"} {
		if !slices.Contains(ignore, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}

// deploy/prometheus.yml scrapes the metrics listener of every long-running
// paysync service of docker-compose.yml, on the port its
// PAYSYNC_METRICS_ADDR names, and never the API port; the compose file
// runs Prometheus with that file and Grafana with the dashboard.
func TestPrometheusScrapesMetricsPorts(t *testing.T) {
	read := func(name string) []byte {
		raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), name))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
			DNS     []struct {
				Names []string `yaml:"names"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(read("deploy/prometheus.yml"), &prom); err != nil {
		t.Fatalf("deploy/prometheus.yml: %v", err)
	}
	scraped := map[string]string{} // service: port
	for _, sc := range prom.ScrapeConfigs {
		for _, d := range sc.DNS {
			for _, n := range d.Names {
				scraped[n] = strconv.Itoa(d.Port)
			}
		}
	}
	var compose struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(read("docker-compose.yml"), &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	mounts := map[string]bool{}
	for name, s := range compose.Services {
		for _, v := range s.Volumes {
			mounts[strings.SplitN(v, ":", 2)[0]] = true
		}
		if s.Build == nil || !slices.Contains(s.Command, "serve") {
			continue
		}
		addr := s.Environment["PAYSYNC_METRICS_ADDR"]
		port := addr[strings.LastIndex(addr, ":")+1:]
		if addr == "" || port == "8080" {
			t.Errorf("service %s: PAYSYNC_METRICS_ADDR %q is not a port of its own", name, addr)
		}
		if scraped[name] != port {
			t.Errorf("service %s: prometheus scrapes port %q, its metrics listen on %q", name, scraped[name], port)
		}
	}
	if len(scraped) < 2 {
		t.Errorf("prometheus scrapes %v, want the api and worker services", scraped)
	}
	for _, want := range []string{"./deploy/prometheus.yml", "./deploy/grafana-paysync.json", "./deploy/grafana/provisioning"} {
		if !mounts[want] {
			t.Errorf("docker-compose.yml mounts no %s", want)
		}
	}
}
