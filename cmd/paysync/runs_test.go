package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// runCLI runs a paysync command in-process as main does, against s.
func runCLI(t *testing.T, s *server, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCLIWithin(t, s, 2*time.Minute, args...)
}

// runCLIWithin is runCLI whose context ends after d, as Ctrl-C would.
func runCLIWithin(t *testing.T, s *server, d time.Duration, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := map[string]string{"PAYSYNC_URL": s.URL, "PAYSYNC_API_KEY": s.Key}
	var out, errOut lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err = run(ctx, args, func(k string) string { return env[k] }, nil, &out, &errOut)
	return out.String(), errOut.String(), err
}

// summaryRow reads the summary table's header and first row from a
// command's output into a map.
func summaryRow(t *testing.T, out, firstColumn string) map[string]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		head := strings.Fields(l)
		if len(head) == 0 || head[0] != firstColumn || i+1 >= len(lines) {
			continue
		}
		vals := strings.Fields(lines[i+1])
		if len(vals) != len(head) {
			t.Fatalf("summary row does not fit its header:\n%s", out)
		}
		row := map[string]string{}
		for j, h := range head {
			row[h] = vals[j]
		}
		return row
	}
	t.Fatalf("no summary table starting with %q in:\n%s", firstColumn, out)
	return nil
}

var progressLineRE = regexp.MustCompile(`(?m)^(import|resync) \S+ (running|done): \d+/\d+ done \(\d+ synced, \d+ failed, \d+ skipped, \d+ in flight\) [\d.]+/s ETA \S+$`)

// The import and sync-run commands against a serving paysync whose Stripe
// emulator holds customers matching in every way: plain progress lines on
// a non-terminal, the summary table's numbers, the CSV of the rows to fix,
// and the bar when asked for one.
func TestImportAndSyncRunCommands(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[1].env(t), map[string]string{"PAYSYNC_BULK_WINDOW": "2"}))
	for _, c := range []struct {
		ext, email string
		stripe     bool
	}{
		{"ext-a", "a@example.test", false}, {"ext-b", "b@example.test", false}, {"ext-e", "E@example.test", false},
		{"ext-c", "dup@example.test", false}, {"ext-d", "dup@example.test", false},
		{"ext-f", "f@example.test", true}, // synced by paysync: already linked
	} {
		bc := map[string]any{"sync_with_provider": false}
		if c.stripe {
			bc = map[string]any{"payment_provider": "stripe", "sync_with_provider": true}
		}
		code, body := s.do(t, "POST", "/api/v1/customers", map[string]any{"customer": map[string]any{
			"external_id": c.ext, "name": c.ext, "email": c.email, "billing_configuration": bc}})
		if code != 200 {
			t.Fatalf("create %s: %d %v", c.ext, code, body)
		}
	}
	s.waitStatus(t, "ext-f", "synced", 30*time.Second)
	for name, form := range map[string]url.Values{
		"by-metadata": {"email": {"other@example.test"}, "metadata[paysync_external_id]": {"ext-a"}},
		"by-external": {"email": {"else@example.test"}, "metadata[customer_id]": {"ext-b"}},
		"by-email":    {"email": {"e@example.test"}},
		"ambiguous":   {"email": {"dup@example.test"}},
		"unmatched":   {"email": {"nobody@example.test"}, "name": {"Nobody"}},
		// Another Stripe customer claiming ext-f, which is linked already.
		"conflict": {"email": {"f2@example.test"}, "metadata[paysync_external_id]": {"ext-f"}},
	} {
		if code, body := postForm(t, s.URL+"/sandbox/stripe/v1/customers", form); code != 200 {
			t.Fatalf("seed %s: %d %v", name, code, body)
		}
	}
	before := stripeCustomerCount(t, s)
	dir := t.TempDir()

	// A dry run: what would happen, nothing linked.
	report := filepath.Join(dir, "dry.csv")
	out, stderr, err := runCLI(t, s, "import", "--connection=stripe", "--dry-run", "--report="+report, "--interval=1ms")
	if err != nil {
		t.Fatalf("import --dry-run: %v\n%s%s", err, stderr, out)
	}
	if !progressLineRE.MatchString(out) || !strings.Contains(stderr, "dry run: true") {
		t.Errorf("no progress line on a non-terminal:\n%s", out)
	}
	want := map[string]string{"seen": "7", "matched": "5", "linked": "3", "created": "0", "ambiguous": "1", "unmatched": "1", "failed": "1"}
	if got := summaryRow(t, out, "seen"); fmt.Sprint(got) != fmt.Sprint(want) || !strings.Contains(out, "(dry run: nothing was changed)") {
		t.Errorf("dry run summary %v, want %v:\n%s", got, want, out)
	}
	if _, a := s.do(t, "GET", "/api/v1/customers/ext-a", nil); billing(t, a)["payment_provider"] != nil {
		t.Fatalf("a dry run linked a customer: %v", billing(t, a))
	}

	// The import: the same numbers, linked for real, and the rows to fix.
	report = filepath.Join(dir, "import.csv")
	out, stderr, err = runCLI(t, s, "import", "--connection=stripe", "--report="+report, "--interval=1ms")
	if err != nil {
		t.Fatalf("import: %v\n%s%s", err, stderr, out)
	}
	if got := summaryRow(t, out, "seen"); fmt.Sprint(got) != fmt.Sprint(want) || !progressLineRE.MatchString(out) {
		t.Errorf("import summary %v, want %v:\n%s", got, want, out)
	}
	if !strings.Contains(out, "ambiguous and failed rows: "+report) {
		t.Errorf("the report is not named:\n%s", out)
	}
	f, err := os.Open(report)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[1]+" "+r[2]) // email, outcome
	}
	slices.Sort(got)
	if strings.Join(rows[0], ",") != "provider_customer_id,email,outcome,reason,matched_by,lago_id" ||
		fmt.Sprint(got) != "[dup@example.test ambiguous f2@example.test conflict]" {
		t.Errorf("report rows: %v", rows)
	}
	for _, ext := range []string{"ext-a", "ext-b", "ext-e"} {
		s.waitStatus(t, ext, "synced", 10*time.Second)
	}

	// --create-missing adopts the unmatched one as a new paysync customer.
	out, stderr, err = runCLI(t, s, "import", "--connection=stripe", "--create-missing", "--report="+filepath.Join(dir, "again.csv"))
	if err != nil {
		t.Fatalf("import --create-missing: %v\n%s%s", err, stderr, out)
	}
	want = map[string]string{"seen": "7", "matched": "5", "linked": "0", "created": "1", "ambiguous": "1", "unmatched": "0", "failed": "1"}
	if got := summaryRow(t, out, "seen"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("create-missing summary %v, want %v:\n%s", got, want, out)
	}
	if after := stripeCustomerCount(t, s); after != before {
		t.Fatalf("imports created provider customers: %d -> %d", before, after)
	}

	// A resync run of the 5 Stripe links, the emulator slowed so that it
	// takes a few polls: lines, then the bar.
	code, _ := doJSON(t, "PUT", s.URL+"/sandbox/stripe/_faults", "", `{"latency":"150ms"}`)
	if code != 200 {
		t.Fatalf("fault plan: %d", code)
	}
	out, stderr, err = runCLI(t, s, "sync-run", "--mode=resync", "--provider=stripe", "--interval=1ms")
	if err != nil {
		t.Fatalf("sync-run: %v\n%s%s", err, stderr, out)
	}
	lines := progressLineRE.FindAllString(out, -1)
	if len(lines) < 2 || !strings.Contains(lines[len(lines)-1], " done: 5/5 done (5 synced, 0 failed, 0 skipped, 0 in flight)") ||
		!strings.Contains(stderr, "5 customers") {
		t.Errorf("sync-run progress lines:\n%s", out)
	}
	want = map[string]string{"total": "5", "done": "5", "synced": "5", "failed": "0", "skipped": "0"}
	if got := summaryRow(t, out, "total"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sync-run summary %v, want %v:\n%s", got, want, out)
	}

	out, stderr, err = runCLI(t, s, "sync-run", "--mode=resync", "--provider=stripe", "--progress=bar")
	if err != nil {
		t.Fatalf("sync-run --progress=bar: %v\n%s%s", err, stderr, out)
	}
	// The bar redraws its line (\r) with the count against the total, and
	// the server's rate and ETA in its description.
	bar := regexp.MustCompile(`\rresync \S{8}: \d synced, 0 failed, 0 skipped, [\d.]+/s, ETA \S+ +\d+% \|[^|]*\| \(\d/5\)`)
	if !bar.MatchString(out) || !strings.Contains(out, "(5/5)") || progressLineRE.MatchString(out) ||
		!regexp.MustCompile(`, ETA \d+s `).MatchString(out) {
		t.Errorf("bar output:\n%q", out)
	}
	if got := summaryRow(t, out, "total"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sync-run summary after the bar %v:\n%s", got, out)
	}

	// On a real terminal (script(1) gives the binary a pseudo-terminal),
	// --progress=auto draws the bar.
	out = onTerminal(t, map[string]string{"PAYSYNC_URL": s.URL, "PAYSYNC_API_KEY": s.Key}, "sync-run", "--mode=resync", "--provider=stripe")
	if !bar.MatchString(out) || !strings.Contains(out, "(5/5)") || progressLineRE.MatchString(out) {
		t.Errorf("sync-run on a terminal:\n%q", out)
	}
	if got := summaryRow(t, strings.ReplaceAll(out, "\r\n", "\n"), "total"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sync-run summary on a terminal %v:\n%s", got, out)
	}

	// Ctrl-C stops the watching, not the run.
	out, _, err = runCLIWithin(t, s, time.Second, "sync-run", "--mode=resync", "--provider=stripe", "--progress=bar")
	m := regexp.MustCompile(`stopped watching; run (\S+) goes on`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil || !strings.HasSuffix(out, "\n") || strings.Contains(out, "total") {
		t.Fatalf("sync-run interrupted: %v\n%q", err, out)
	}
	if run := s.waitRun(t, m[1], "done", 30*time.Second); run["synced"] != float64(5) {
		t.Errorf("the run after its watcher left: %v", run)
	}

	// Adyen has no list: a usage error (exit 2) that says so.
	_, _, err = runCLI(t, s, "import", "--connection=adyen")
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `connection "adyen" has no customer list to import from (Adyen has none`) {
		t.Errorf("adyen import: %v", err)
	}
	if _, _, err = runCLI(t, s, "sync-run", "--mode=resync", "--progress=fancy"); !errors.As(err, &ue) {
		t.Errorf("--progress=fancy: %v", err)
	}
	if _, _, err = runCLI(t, s, "import", "--connection=nope"); err == nil || !strings.Contains(err.Error(), "filter.connection_code: payment_provider_not_found") {
		t.Errorf("unknown connection: %v", err)
	}
}

// The client commands need PAYSYNC_API_KEY and answer --help with their
// flags and environment.
func TestRunCommandsUsage(t *testing.T) {
	for _, args := range [][]string{{"import", "--connection=stripe"}, {"sync-run", "--mode=resync"}} {
		code, stdout, stderr := runBinary(t, map[string]string{"PAYSYNC_URL": "http://127.0.0.1:1"}, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "PAYSYNC_API_KEY is not set") {
			t.Errorf("%v without a key: exit %d, %q, %q", args, code, stdout, stderr)
		}
	}
	for cmd, flags := range map[string][]string{
		"import":   {"-connection", "-provider", "-match", "-create-missing", "-dry-run", "-report", "-progress", "-interval", "-url"},
		"sync-run": {"-mode", "-provider", "-connection", "-status", "-no-payment-method", "-created-after", "-external-ids", "-progress"},
	} {
		code, stdout, stderr := runBinary(t, nil, cmd, "--help")
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: paysync "+cmd) {
			t.Errorf("%s --help: exit %d, %q, %q", cmd, code, stdout, stderr)
		}
		for _, w := range append(flags, "PAYSYNC_URL", "PAYSYNC_API_KEY") {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s --help does not list %s:\n%s", cmd, w, stdout)
			}
		}
	}
}

// onTerminal runs the paysync binary with a pseudo-terminal as its stdout
// and stderr, through script(1) (util-linux), and returns what it wrote.
func onTerminal(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("the terminal test needs script(1) from util-linux: %v", err)
	}
	line := "'" + binary(t) + "'"
	for _, a := range args {
		line += " '" + a + "'"
	}
	cmd := exec.Command(script, "-qec", line, "/dev/null")
	cmd.Env = append(envList(env), "PATH="+os.Getenv("PATH"), "TERM=xterm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("paysync %v on a terminal: %v\n%s", args, err, out)
	}
	return string(out)
}

// An import's bar counts without a length while the import pages through
// its provider (its total grows), and fills once it is done; a cancelled
// run's bar stays where it stopped. Short ids do not matter.
func TestRunBar(t *testing.T) {
	var out strings.Builder
	b := newRunBar(&out)
	for _, r := range []runView{
		{ID: "i1", Mode: "import", State: "running"},
		{ID: "i1", Mode: "import", State: "running", Total: 10, Done: 4, Synced: 4, Rate: 2},
		{ID: "i1", Mode: "import", State: "running", Total: 25, Done: 20, Synced: 19, Skipped: 1, Rate: 2.5},
		{ID: "i1", Mode: "import", State: "done", Total: 30, Done: 30, Synced: 28, Skipped: 2, Rate: 3},
	} {
		b.show(&r)
	}
	b.end(&out)
	got := out.String()
	for _, want := range []string{"import i1: 4 synced, 0 failed, 0 skipped, 2.0/s, ETA -", "(20/-)",
		"import i1: 28 synced, 0 failed, 2 skipped, 3.0/s, ETA - 100% |", "(30/30)"} {
		if !strings.Contains(got, want) {
			t.Errorf("bar output lacks %q:\n%q", want, got)
		}
	}
	if strings.Contains(got, "/10)") || strings.Contains(got, "/25)") {
		t.Errorf("an import's bar took a total it had only seen so far:\n%q", got)
	}

	out.Reset()
	b = newRunBar(&out)
	eta := 4.0
	for _, r := range []runView{
		{ID: "r", Mode: "resync", State: "running", Total: 8, Done: 3, Synced: 3, Rate: 1, ETASeconds: &eta},
		{ID: "r", Mode: "resync", State: "cancelled", Total: 8, Done: 5, Synced: 5},
	} {
		b.show(&r)
	}
	b.end(&out)
	got = out.String()
	if !strings.Contains(got, "resync r: 3 synced, 0 failed, 0 skipped, 1.0/s, ETA 4s  37% |") ||
		!strings.HasSuffix(got, "(5/8) \n") || strings.Contains(got, "100%") {
		t.Errorf("resync bar:\n%q", got)
	}
}
