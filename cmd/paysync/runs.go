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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

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
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	if *conn == "" {
		return &usageError{"paysync import: --connection is required\n" + c.usage()}
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
		return &usageError{"paysync import: " + ae.message}
	}
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	fmt.Fprintf(stderr, "import %s started (dry run: %v)\n", run.ID, *dry)
	run, err = watch(ctx, api, run, stdout)
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
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	if *mode == "" {
		return &usageError{"paysync sync-run: --mode is required\n" + c.usage()}
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
	if run, err = watch(ctx, api, run, stdout); err != nil {
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

// watch polls a run until it is done or cancelled: a live progress bar on
// a terminal, a plain line every few seconds elsewhere (logs, CI). Leaving
// early (Ctrl-C) leaves the run going.
func watch(ctx context.Context, api *apiClient, run *runView, stdout io.Writer) (*runView, error) {
	f, isFile := stdout.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	var bar *progressbar.ProgressBar
	if tty {
		bar = progressbar.NewOptions(max(run.Total, -1), progressbar.OptionSetWriter(stdout),
			progressbar.OptionSetDescription(run.Mode+" "+run.ID[:8]), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionSetItsString("customers"), progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	poll, lineEvery := 250*time.Millisecond, 2*time.Second
	lastLine := time.Time{}
	for {
		if bar != nil {
			if run.Mode == "import" {
				bar.ChangeMax(max(run.Total, run.Done))
			}
			_ = bar.Set(run.Done)
			bar.Describe(fmt.Sprintf("%s %s: %d synced, %d failed, %d skipped", run.Mode, run.ID[:8], run.Synced, run.Failed, run.Skipped))
		} else if time.Since(lastLine) >= lineEvery || run.State == "done" || run.State == "cancelled" {
			fmt.Fprintln(stdout, progressLine(run))
			lastLine = time.Now()
		}
		if run.State == "done" || run.State == "cancelled" {
			if bar != nil {
				_ = bar.Finish()
			}
			return run, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped watching; run %s goes on (POST /api/v1/sync_runs/%s/pause to pause it)", run.ID, run.ID)
		case <-time.After(poll):
		}
		next, err := api.getRun(ctx, run.ID)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return nil, err
		}
		run = next
	}
}

func progressLine(r *runView) string {
	eta := "-"
	if r.ETASeconds != nil {
		eta = (time.Duration(*r.ETASeconds) * time.Second).String()
	}
	return fmt.Sprintf("%s %s %s: %d/%d done (%d synced, %d failed, %d skipped, %d in flight) %.1f/s ETA %s",
		r.Mode, r.ID, r.State, r.Done, r.Total, r.Synced, r.Failed, r.Skipped, r.InFlight, r.Rate, eta)
}

// printSummary prints a finished run's table: an import's outcomes
// (matched = linked + already linked + would link), a run's counts.
func printSummary(w io.Writer, r *runView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if r.Mode == "import" {
		s := r.Summary
		matched := s["linked"] + s["already_linked"] + s["would_link"] + s["failed"]
		fmt.Fprintln(tw, "seen\tmatched\tlinked\tcreated\tambiguous\tunmatched\tfailed\t")
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Total, matched, s["linked"], s["created"]+s["would_create"],
			s["ambiguous"], s["unmatched"], s["failed"]+s["conflict"])
	} else {
		fmt.Fprintln(tw, "total\tdone\tsynced\tfailed\tskipped\t")
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t\n", r.Total, r.Done, r.Synced, r.Failed, r.Skipped)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%s %s %s\n", r.Mode, r.ID, r.State)
}
