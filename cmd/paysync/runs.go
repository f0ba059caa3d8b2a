package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/config"
)

// The run commands are clients of a serving paysync: the work runs in its
// workers (through the shared rate limiter, on the bulk queue), survives
// restarts, and the command only starts it and watches it. That is also
// what makes them work in sandbox mode, whose emulators live inside the
// serving process.
var clientVars = []config.Var{
	{Name: "PAYSYNC_URL", Usage: "the serving paysync's base URL", Default: "http://localhost:8080"},
	{Name: "PAYSYNC_API_KEY", Usage: "an API key of the organization (required)"},
}

// apiClient calls a serving paysync's Lago-style API.
type apiClient struct {
	base, key string
	http      *http.Client
}

func newAPIClient(getenv func(string) string, url string) (*apiClient, error) {
	key := getenv("PAYSYNC_API_KEY")
	if key == "" {
		return nil, &usageError{"paysync: PAYSYNC_API_KEY is not set: the key of the organization to work on"}
	}
	if url == "" {
		url = getenv("PAYSYNC_URL")
	}
	if url == "" {
		url = "http://localhost:8080"
	}
	return &apiClient{base: strings.TrimRight(url, "/"), key: key, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// apiError is an error answer of the API, with its field details.
type apiError struct {
	status  int
	message string
	details map[string][]string
}

func (e *apiError) Error() string {
	if len(e.details) == 0 {
		return fmt.Sprintf("HTTP %d: %s", e.status, e.message)
	}
	var parts []string
	for field, reasons := range e.details {
		parts = append(parts, field+": "+strings.Join(reasons, ", "))
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, strings.Join(parts, "; "))
}

func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("paysync at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error   string              `json:"error"`
			Details map[string][]string `json:"error_details"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return &apiError{status: resp.StatusCode, message: e.Error, details: e.Details}
	}
	if w, ok := out.(io.Writer); ok {
		_, err = w.Write(raw)
		return err
	}
	return json.Unmarshal(raw, out)
}

// runView is what GET /api/v1/sync_runs/{id} answers.
type runView struct {
	ID         string         `json:"id"`
	Mode       string         `json:"mode"`
	State      string         `json:"state"`
	Total      int            `json:"total"`
	Done       int            `json:"done"`
	Synced     int            `json:"synced"`
	Failed     int            `json:"failed"`
	Skipped    int            `json:"skipped"`
	InFlight   int            `json:"in_flight"`
	Rate       float64        `json:"rate_per_second"`
	ETASeconds *float64       `json:"eta_seconds"`
	Summary    map[string]int `json:"summary"`
	Options    *struct {
		DryRun bool `json:"dry_run"`
	} `json:"options"`
}

func (c *apiClient) startRun(ctx context.Context, run map[string]any) (*runView, error) {
	var out struct {
		Run runView `json:"sync_run"`
	}
	err := c.do(ctx, "POST", "/api/v1/sync_runs", map[string]any{"sync_run": run}, &out)
	return &out.Run, err
}

func (c *apiClient) getRun(ctx context.Context, id string) (*runView, error) {
	var out struct {
		Run runView `json:"sync_run"`
	}
	err := c.do(ctx, "GET", "/api/v1/sync_runs/"+id, nil, &out)
	return &out.Run, err
}

// importCmd is `paysync import`.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newCommand("import", "import --connection=CODE [--provider=P] [--match=metadata,external_id,email] [--create-missing] [--dry-run]",
		"Adopts the customers a provider already has: pages through the connection's customers, matches\n"+
			"each to a paysync customer (paysync's metadata, then an external id in the provider's metadata,\n"+
			"then a unique email; an ambiguous match is reported, never guessed) and links the matched ones,\n"+
			"creating nothing at the provider. The work runs in the serving paysync's workers as a sync run\n"+
			"of mode import; this command starts it and shows its progress. Adyen has no customer list.", clientVars)
	conn := c.fs.String("connection", "", "the connection's code (required)")
	provider := c.fs.String("provider", "", "the connection's provider, when several share the code")
	match := c.fs.String("match", "metadata,external_id,email", "the ways to match, in order")
	create := c.fs.Bool("create-missing", false, "create a paysync customer for each provider customer that matches none")
	dry := c.fs.Bool("dry-run", false, "record what the import would do, and change nothing")
	report := c.fs.String("report", "", "CSV file for the ambiguous and failed rows (default import-<run id>.csv)")
	url := c.fs.String("url", "", "the serving paysync's base URL (default $PAYSYNC_URL)")
	prog := addProgressFlags(c)
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	if err := prog.check("import", c); err != nil {
		return err
	}
	if *conn == "" {
		return &usageError{"paysync import: --connection is required\n" + c.usage()}
	}
	for _, m := range splitList(*match) {
		if !slices.Contains(paysync.DefaultMatch, m) {
			return &usageError{fmt.Sprintf("paysync import: --match: %q is not one of %s\n%s", m, strings.Join(paysync.DefaultMatch, ", "), c.usage())}
		}
	}
	api, err := newAPIClient(getenv, *url)
	if err != nil {
		return err
	}
	run, err := api.startRun(ctx, map[string]any{"mode": "import",
		"filter":  map[string]any{"provider": *provider, "connection_code": *conn},
		"options": map[string]any{"match": splitList(*match), "create_missing": *create, "dry_run": *dry}})
	var ae *apiError
	if errors.As(err, &ae) && ae.details["filter.provider"] != nil && ae.details["filter.provider"][0] == "feature_not_supported" {
		// Only Adyen: it knows shoppers by the reference paysync sends.
		return &usageError{fmt.Sprintf("paysync import: connection %q has no customer list to import from "+
			"(Adyen has none: it knows a shopper only by the reference paysync sends, so there is nothing to adopt)", *conn)}
	}
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	fmt.Fprintf(stderr, "import %s started (dry run: %v)\n", run.ID, *dry)
	run, err = watch(ctx, api, run, prog, stdout)
	if err != nil {
		return err
	}
	printSummary(stdout, run)
	path := *report
	if path == "" {
		path = "import-" + run.ID + ".csv"
	}
	var csv bytes.Buffer
	if err := api.do(ctx, "GET", "/api/v1/sync_runs/"+run.ID+"/items?format=csv&outcome=ambiguous,failed,conflict", nil, &csv); err != nil {
		return err
	}
	if strings.Count(csv.String(), "\n") > 1 {
		if err := os.WriteFile(path, csv.Bytes(), 0o600); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		fmt.Fprintf(stdout, "ambiguous and failed rows: %s\n", path)
	}
	return nil
}

// syncRunCmd is `paysync sync-run`.
func syncRunCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newCommand("sync-run", "sync-run --mode=resync|refresh|link_missing [filters]",
		"Starts a bulk sync run in the serving paysync's workers and shows its progress: resync starts a\n"+
			"new generation of each matching link, refresh re-reads payment methods, link_missing creates at\n"+
			"the connection every customer that has no link. Runs survive restarts; pause, resume or cancel\n"+
			"them with POST /api/v1/sync_runs/{id}/pause|resume|cancel.", clientVars)
	mode := c.fs.String("mode", "", "resync, refresh or link_missing (required)")
	provider := c.fs.String("provider", "", "only links to this provider (link_missing: the provider to create at)")
	conn := c.fs.String("connection", "", "only links to this connection code")
	status := c.fs.String("status", "", "only links in these states: a comma list of none, pending, failed, synced")
	noPM := c.fs.Bool("no-payment-method", false, "only links without a payment method")
	after := c.fs.String("created-after", "", "only customers created at or after this RFC 3339 time")
	before := c.fs.String("created-before", "", "only customers created at or before this RFC 3339 time")
	ids := c.fs.String("external-ids", "", "only these customers: a comma list of external ids")
	url := c.fs.String("url", "", "the serving paysync's base URL (default $PAYSYNC_URL)")
	prog := addProgressFlags(c)
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	if err := prog.check("sync-run", c); err != nil {
		return err
	}
	switch paysync.SyncRunMode(*mode) {
	case paysync.RunResync, paysync.RunRefresh, paysync.RunLinkMissing:
	case paysync.RunImport:
		return &usageError{"paysync sync-run: an import is `paysync import`\n" + c.usage()}
	default:
		return &usageError{fmt.Sprintf("paysync sync-run: --mode: %q is not resync, refresh or link_missing\n%s", *mode, c.usage())}
	}
	filter := map[string]any{"provider": *provider, "connection_code": *conn, "provider_sync_status": splitList(*status),
		"external_ids": splitList(*ids)}
	if *noPM {
		filter["has_payment_method"] = false
	}
	for name, v := range map[string]string{"created_after": *after, "created_before": *before} {
		if v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return &usageError{fmt.Sprintf("paysync sync-run: --%s: %q is not an RFC 3339 time", strings.ReplaceAll(name, "_", "-"), v)}
		}
		filter[name] = v
	}
	api, err := newAPIClient(getenv, *url)
	if err != nil {
		return err
	}
	run, err := api.startRun(ctx, map[string]any{"mode": *mode, "filter": filter})
	if err != nil {
		return fmt.Errorf("sync-run: %w", err)
	}
	fmt.Fprintf(stderr, "sync run %s started: %d customers\n", run.ID, run.Total)
	if run, err = watch(ctx, api, run, prog, stdout); err != nil {
		return err
	}
	printSummary(stdout, run)
	return nil
}

func splitList(s string) []string {
	out := []string{}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// progress is how a command shows a run's progress.
type progress struct {
	mode  string // auto, bar or lines
	every time.Duration
}

func addProgressFlags(c *command) *progress {
	p := &progress{}
	c.fs.StringVar(&p.mode, "progress", "auto", "auto (a bar on a terminal, lines elsewhere), bar or lines")
	c.fs.DurationVar(&p.every, "interval", 2*time.Second, "how often to print a progress line when not showing a bar")
	return p
}

func (p *progress) check(name string, c *command) error {
	if p.mode != "auto" && p.mode != "bar" && p.mode != "lines" {
		return &usageError{fmt.Sprintf("paysync %s: --progress: %q is not auto, bar or lines\n%s", name, p.mode, c.usage())}
	}
	return nil
}

// bar reports whether to draw a bar on stdout.
func (p *progress) bar(stdout io.Writer) bool {
	if p.mode != "auto" {
		return p.mode == "bar"
	}
	f, isFile := stdout.(*os.File)
	return isFile && term.IsTerminal(int(f.Fd()))
}

// runBar draws a run's progress. The counts, rate and ETA are the serving
// paysync's (they survive a restart of the command); the bar's length is
// the run's total.
type runBar struct {
	bar   *progressbar.ProgressBar
	total int
}

func newRunBar(w io.Writer) *runBar {
	return &runBar{bar: progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(false), progressbar.OptionSetElapsedTime(false),
		progressbar.OptionSetWidth(30),
		// No spinner goroutine (it would draw on after the summary of a
		// cancelled run) and no throttle (it would drop the redraw after
		// Set): the bar is redrawn at each poll.
		progressbar.OptionSetSpinnerChangeInterval(0))}
}

func (b *runBar) show(r *runView) {
	// An import's total is only what it has seen so far: its bar has no
	// length (a count) until the walk is over.
	known := r.Mode != "import" || r.State == "done" || r.State == "cancelled"
	if known && r.Total > 0 && r.Total != b.total {
		b.total = r.Total
		b.bar.ChangeMax(r.Total)
	}
	_ = b.bar.Set(r.Done)
	// Describe redraws the line, now with the count just set.
	b.bar.Describe(fmt.Sprintf("%s %s: %d synced, %d failed, %d skipped, %.1f/s, ETA %s",
		r.Mode, shortID(r.ID), r.Synced, r.Failed, r.Skipped, r.Rate, eta(r)))
}

// end leaves the bar's last state on its line.
func (b *runBar) end(w io.Writer) {
	_ = b.bar.Exit()
	fmt.Fprintln(w)
}

// watch polls a run until it is done or cancelled: a live progress bar on
// a terminal, a plain line every p.every elsewhere (logs, CI). Leaving
// early (Ctrl-C) leaves the run going.
func watch(ctx context.Context, api *apiClient, run *runView, p *progress, stdout io.Writer) (*runView, error) {
	var bar *runBar
	if p.bar(stdout) {
		bar = newRunBar(stdout)
	}
	const poll = 250 * time.Millisecond
	var lastLine, unreachable time.Time
	for {
		finished := run.State == "done" || run.State == "cancelled"
		if bar != nil {
			bar.show(run)
			if finished {
				bar.end(stdout)
			}
		} else if finished || time.Since(lastLine) >= p.every {
			fmt.Fprintln(stdout, progressLine(run))
			lastLine = time.Now()
		}
		if finished {
			return run, nil
		}
		select {
		case <-ctx.Done():
			if bar != nil {
				bar.end(stdout)
			}
			return nil, fmt.Errorf("stopped watching; run %s goes on (POST /api/v1/sync_runs/%s/pause to pause it)", run.ID, run.ID)
		case <-time.After(poll):
		}
		next, err := api.getRun(ctx, run.ID)
		switch {
		case err == nil:
			run, unreachable = next, time.Time{}
			continue
		case ctx.Err() != nil:
			continue // the select above says why
		case !transient(err):
			return nil, err
		case unreachable.IsZero():
			unreachable = time.Now()
		case time.Since(unreachable) > unreachableFor:
			return nil, fmt.Errorf("run %s: %w (for %s; the run goes on where the server is)", run.ID, err, unreachableFor)
		}
	}
}

// unreachableFor is how long watch waits for a serving paysync that went
// away (a restart, a deploy): the run survives it, and so does the watch.
const unreachableFor = time.Minute

// transient reports whether a failed poll may succeed later: the server
// did not answer, or answered 5xx.
func transient(err error) bool {
	var ae *apiError
	return !errors.As(err, &ae) || ae.status >= 500
}

// shortID is an id's first 8 characters, for a bar's narrow line.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// eta is the run's time left; an import cannot know it, as no provider
// tells how many customers its list holds.
func eta(r *runView) string {
	if r.ETASeconds == nil || r.Mode == "import" {
		return "-"
	}
	return (time.Duration(*r.ETASeconds) * time.Second).String()
}

func progressLine(r *runView) string {
	return fmt.Sprintf("%s %s %s: %d/%d done (%d synced, %d failed, %d skipped, %d in flight) %.1f/s ETA %s",
		r.Mode, r.ID, r.State, r.Done, r.Total, r.Synced, r.Failed, r.Skipped, r.InFlight, r.Rate, eta(r))
}

// printSummary prints a finished run's table: an import's outcomes, a
// run's counts. Matched counts the provider customers that found their
// paysync customer, whatever came of it (linked, already linked, would
// link, failed or conflicting); failed counts failures and conflicts.
func printSummary(w io.Writer, r *runView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if r.Mode == "import" {
		s := r.Summary
		matched := s["linked"] + s["already_linked"] + s["would_link"] + s["failed"] + s["conflict"]
		fmt.Fprintln(tw, "seen\tmatched\tlinked\tcreated\tambiguous\tunmatched\tfailed\t")
		// A dry run's linked and created are what the import would do.
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Total, matched, s["linked"]+s["would_link"], s["created"]+s["would_create"],
			s["ambiguous"], s["unmatched"], s["failed"]+s["conflict"])
	} else {
		fmt.Fprintln(tw, "total\tdone\tsynced\tfailed\tskipped\t")
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t\n", r.Total, r.Done, r.Synced, r.Failed, r.Skipped)
	}
	_ = tw.Flush()
	dry := ""
	if r.Options != nil && r.Options.DryRun {
		dry = " (dry run: nothing was changed)"
	}
	fmt.Fprintf(w, "%s %s %s%s\n", r.Mode, r.ID, r.State, dry)
}
