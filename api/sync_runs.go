package api

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

// syncRunView is paysync's own resource, in the Lago family's style.
type syncRunView struct {
	ID             string                `json:"id"`
	OrganizationID string                `json:"organization_id"`
	Mode           paysync.SyncRunMode   `json:"mode"`
	State          paysync.SyncRunState  `json:"state"`
	Filter         paysync.SyncRunFilter `json:"filter"`
	// Options and Summary are an import run's.
	Options *paysync.ImportOptions `json:"options,omitempty"`
	Summary paysync.ImportSummary  `json:"summary,omitempty"`
	paysync.SyncRunCounts
	RatePerSecond float64  `json:"rate_per_second"`
	ETASeconds    *float64 `json:"eta_seconds"`
	CreatedAt     string   `json:"created_at"`
	UpdatedAt     string   `json:"updated_at"`
	FinishedAt    *string  `json:"finished_at"`
}

func syncRunViewOf(r *paysync.SyncRun) syncRunView {
	t := time.Now()
	v := syncRunView{ID: r.ID, OrganizationID: r.OrganizationID, Mode: r.Mode, State: r.State, Filter: r.Filter,
		Options: r.Import, Summary: r.Summary, SyncRunCounts: r.SyncRunCounts, RatePerSecond: math.Round(r.Rate(t)*100) / 100,
		CreatedAt: lagoTime(r.CreatedAt), UpdatedAt: lagoTime(r.UpdatedAt)}
	if r.Summary != nil && r.InFlight > 0 {
		v.Summary = maps.Clone(r.Summary)
		v.Summary["in_flight"] = r.InFlight
	}
	if v.Filter.States == nil {
		v.Filter.States = []paysync.SyncState{}
	}
	if eta := r.ETA(t); eta != nil {
		s := math.Ceil(eta.Seconds())
		v.ETASeconds = &s
	}
	if r.FinishedAt != nil {
		s := lagoTime(*r.FinishedAt)
		v.FinishedAt = &s
	}
	return v
}

// handleCreateSyncRun is POST /api/v1/sync_runs:
// {"sync_run": {"mode": "resync", "filter": {...}}}; an import names its
// connection in the filter and takes {"options": {"match": [...],
// "create_missing": true, "dry_run": true}}.
func handleCreateSyncRun(svc *paysync.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		var in struct {
			Run *struct {
				Mode   paysync.SyncRunMode `json:"mode"`
				Filter struct {
					Provider         *string             `json:"provider"`
					ConnectionCode   string              `json:"connection_code"`
					States           []paysync.SyncState `json:"provider_sync_status"`
					HasPaymentMethod *bool               `json:"has_payment_method"`
					CreatedAfter     *time.Time          `json:"created_after"`
					CreatedBefore    *time.Time          `json:"created_before"`
					ExternalIDs      []string            `json:"external_ids"`
				} `json:"filter"`
				Options paysync.ImportOptions `json:"options"`
			} `json:"sync_run"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			fail(w, r, log, lagoDialect, badRequest("malformed JSON or a field of the wrong type: "+err.Error()))
			return
		}
		if in.Run == nil {
			fail(w, r, log, lagoDialect, badRequest("param is missing or the value is empty: sync_run"))
			return
		}
		f := in.Run.Filter
		filter := paysync.SyncRunFilter{ConnectionCode: f.ConnectionCode, States: f.States, HasPaymentMethod: f.HasPaymentMethod,
			CreatedAfter: f.CreatedAfter, CreatedBefore: f.CreatedBefore, ExternalIDs: f.ExternalIDs}
		if f.Provider != nil && *f.Provider != "" {
			kind, ok := paysync.ParseProviderKind(*f.Provider)
			if !ok {
				fail(w, r, log, lagoDialect, paysync.Validation{"filter.provider": {"value_is_invalid"}}.Err())
				return
			}
			filter.Provider = kind
		}
		org := organizationFrom(r.Context()).ID
		var run *paysync.SyncRun
		if in.Run.Mode == paysync.RunImport {
			run, err = svc.StartImport(r.Context(), org, filter.Provider, filter.ConnectionCode, in.Run.Options)
		} else {
			run, err = svc.StartSyncRun(r.Context(), org, in.Run.Mode, filter)
		}
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"sync_run": syncRunViewOf(run)})
	})
}

// handleSyncRun is GET /api/v1/sync_runs/{id}.
func handleSyncRun(runs paysync.SyncRunStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, err := runs.SyncRun(r.Context(), organizationFrom(r.Context()).ID, r.PathValue("id"))
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "sync_run"))
			return
		}
		encode(w, http.StatusOK, map[string]any{"sync_run": syncRunViewOf(run)})
	})
}

// handleListSyncRuns is GET /api/v1/sync_runs: the latest 100, newest first.
func handleListSyncRuns(runs paysync.SyncRunStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := runs.SyncRuns(r.Context(), organizationFrom(r.Context()).ID, 100)
		if err != nil {
			fail(w, r, log, lagoDialect, err)
			return
		}
		out := make([]syncRunView, 0, len(list))
		for _, run := range list {
			out = append(out, syncRunViewOf(run))
		}
		encode(w, http.StatusOK, map[string]any{"sync_runs": out})
	})
}

// handleSyncRunState is POST /api/v1/sync_runs/{id}/pause, resume and
// cancel: the move to state from the states that allow it.
func handleSyncRunState(runs paysync.SyncRunStore, log *slog.Logger, to paysync.SyncRunState, from ...paysync.SyncRunState) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, err := runs.SetSyncRunState(r.Context(), organizationFrom(r.Context()).ID, r.PathValue("id"), to, from...)
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "sync_run"))
			return
		}
		encode(w, http.StatusOK, map[string]any{"sync_run": syncRunViewOf(run)})
	})
}

// handleImportItems is GET /api/v1/sync_runs/{id}/items?outcome=a,b: an
// import run's items, as JSON or, with ?format=csv, as the CSV an operator
// fixes the ambiguous and failed rows from.
func handleImportItems(runs paysync.SyncRunStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var outcomes []string
		if o := r.URL.Query().Get("outcome"); o != "" {
			outcomes = strings.Split(o, ",")
		}
		items, err := runs.ImportItems(r.Context(), organizationFrom(r.Context()).ID, r.PathValue("id"), outcomes...)
		if err != nil {
			fail(w, r, log, lagoDialect, notFound(err, "sync_run"))
			return
		}
		if r.URL.Query().Get("format") == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			_ = WriteImportCSV(w, items)
			return
		}
		out := make([]importItemView, 0, len(items))
		for _, it := range items {
			out = append(out, importItemView(it))
		}
		encode(w, http.StatusOK, map[string]any{"items": out})
	})
}

type importItemView struct {
	ProviderCustomerID string `json:"provider_customer_id"`
	CustomerID         string `json:"lago_id"`
	MatchedBy          string `json:"matched_by"`
	Outcome            string `json:"outcome"`
	Reason             string `json:"reason"`
	Email              string `json:"email"`
}

// WriteImportCSV writes import items as CSV with a header row.
func WriteImportCSV(w io.Writer, items []paysync.ImportItem) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"provider_customer_id", "email", "outcome", "reason", "matched_by", "lago_id"})
	for _, it := range items {
		_ = cw.Write([]string{it.ProviderCustomerID, it.Email, it.Outcome, it.Reason, it.MatchedBy, it.CustomerID})
	}
	cw.Flush()
	return cw.Error()
}
