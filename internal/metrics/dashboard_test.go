package metrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/paysync/paysync/internal/metrics"
	"github.com/paysync/paysync/internal/testenv"
)

type panel struct {
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

var metricName = regexp.MustCompile(`\b(?:paysync|go|process)_[a-zA-Z0-9_]+`)

// The shipped Grafana dashboard queries only metrics paysync exports, and
// charts every paysync family: it cannot drift from the code.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "deploy", "grafana-paysync.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string  `json:"title"`
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("deploy/grafana-paysync.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Fatalf("dashboard without title or uid")
	}
	exported := metrics.Families()
	charted := map[string]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				names := metricName.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q: %q queries no paysync metric", p.Title, tg.Expr)
				}
				for _, n := range names {
					family := n
					for _, suffix := range []string{"_bucket", "_sum", "_count"} {
						if base, ok := strings.CutSuffix(n, suffix); ok && slices.Contains(exported, base) {
							family = base
						}
					}
					if !slices.Contains(exported, family) {
						t.Errorf("panel %q queries %s, which paysync does not export", p.Title, n)
					}
					charted[family] = true
				}
			}
		}
	}
	walk(d.Panels)
	for _, f := range exported {
		if strings.HasPrefix(f, "paysync_") && !charted[f] {
			t.Errorf("no panel charts %s", f)
		}
	}
}
