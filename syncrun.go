package paysync

import (
	"context"
	"errors"
	"time"
)

// SyncRunMode is what a bulk sync run does to each customer it selects.
type SyncRunMode string

const (
	// RunResync starts a new generation of each matching link (as
	// Service.Resync does for one customer).
	RunResync SyncRunMode = "resync"
	// RunRefresh re-reads the payment methods of each matching synced link.
	RunRefresh SyncRunMode = "refresh"
	// RunLinkMissing creates at the run's connection every matching
	// customer that has no provider link yet.
	RunLinkMissing SyncRunMode = "link_missing"
)

// SyncRunState is where a run stands.
type SyncRunState string

const (
	RunRunning   SyncRunState = "running"
	RunPaused    SyncRunState = "paused"
	RunDone      SyncRunState = "done"
	RunCancelled SyncRunState = "cancelled"
)

// SyncRunFilter selects the customers of a run. Conditions combine with
// AND; a zero field selects everyone.
type SyncRunFilter struct {
	Provider       ProviderKind `json:"provider,omitempty"`
	ConnectionCode string       `json:"connection_code,omitempty"`
	// States keeps links in one of these states (none, pending, failed, synced).
	States []SyncState `json:"provider_sync_status,omitempty"`
	// HasPaymentMethod keeps links whose flag equals it.
	HasPaymentMethod *bool      `json:"has_payment_method,omitempty"`
	CreatedAfter     *time.Time `json:"created_after,omitempty"`
	CreatedBefore    *time.Time `json:"created_before,omitempty"`
	ExternalIDs      []string   `json:"external_ids,omitempty"`
}

// SyncRunCounts are a run's progress. Total is fixed when the run starts:
// the customers that matched then (later customers are not part of it).
type SyncRunCounts struct {
	Total   int `json:"total"`
	Done    int `json:"done"`
	Synced  int `json:"synced"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// InFlight counts the items started and not finished yet.
	InFlight int `json:"in_flight"`
}

// SyncRun is a bulk operation over an organization's customers, walked in
// keyset-paged batches so that memory and queue use stay flat. Its cursor
// and items live in the store, so a run survives a restart of every process.
type SyncRun struct {
	ID             string
	OrganizationID string
	Mode           SyncRunMode
	Filter         SyncRunFilter
	// Import holds an import run's options; nil for the other modes.
	Import *ImportOptions
	State  SyncRunState
	SyncRunCounts
	// Summary counts an import run's settled items by outcome.
	Summary ImportSummary
	// ActiveSeconds is the time spent running (pauses excluded) up to
	// ResumedAt; the rate is Done over it plus the time since ResumedAt.
	ActiveSeconds float64
	ResumedAt     *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	FinishedAt    *time.Time
}

// Rate is the run's customers per second while it ran.
func (r *SyncRun) Rate(now time.Time) float64 {
	secs := r.ActiveSeconds
	if r.State == RunRunning && r.ResumedAt != nil {
		secs += now.Sub(*r.ResumedAt).Seconds()
	}
	if secs <= 0 {
		return 0
	}
	return float64(r.Done) / secs
}

// ETA is the time left at the current rate; nil while unknown or finished.
// An import's total only counts what it has read of the provider's list,
// so it has none.
func (r *SyncRun) ETA(now time.Time) *time.Duration {
	rate := r.Rate(now)
	if r.State != RunRunning || rate <= 0 || r.Mode == RunImport {
		return nil
	}
	d := time.Duration(float64(r.Total-r.Done) / rate * float64(time.Second))
	return &d
}

// Finished reports whether the run can no longer change.
func (r *SyncRun) Finished() bool { return r.State == RunDone || r.State == RunCancelled }

// RunItem is one customer a run started work for.
type RunItem struct {
	LinkRef
	// Refresh: the work is a payment-method re-read, not a sync generation.
	Refresh bool
}

// SyncRunStore keeps bulk runs; package store implements it.
type SyncRunStore interface {
	// AddSyncRun stores a new running run and counts the customers it
	// selects (Total); it fills ID and the times.
	AddSyncRun(ctx context.Context, r *SyncRun) error
	SyncRun(ctx context.Context, orgID, id string) (*SyncRun, error)
	// SyncRuns lists an organization's runs, newest first.
	SyncRuns(ctx context.Context, orgID string, limit int) ([]*SyncRun, error)
	// SetSyncRunState moves a run to state when it is in one of from; any
	// other state is an EINVALID *Error (ENOTFOUND for an unknown run).
	SetSyncRunState(ctx context.Context, orgID, id string, to SyncRunState, from ...SyncRunState) (*SyncRun, error)
	// RunningSyncRuns lists every running run, of every organization.
	RunningSyncRuns(ctx context.Context) ([]*SyncRun, error)
	// AdvanceSyncRun settles the run's finished items and, when fewer than
	// window are in flight, starts the next customers after its cursor in
	// one transaction with the items that record them (so that no customer
	// is started twice in one run, whatever crashes), and finishes the run
	// when nothing is left. It returns the run and the items it started,
	// which the caller queues.
	AdvanceSyncRun(ctx context.Context, id string, window int) (*SyncRun, []RunItem, error)
	// SyncRunInFlight lists the run's started, unfinished items: after a
	// restart they are queued again (a no-op while their task exists).
	SyncRunInFlight(ctx context.Context, id string, limit int) ([]RunItem, error)

	// AdvanceImport is AdvanceSyncRun for an import run: it settles the
	// items in flight and, with room in the window and the walk not done,
	// calls page with the stored cursor and records what it does with each
	// customer of the page (matching, linking, creating) in one
	// transaction with the next cursor. It returns the items to queue.
	AdvanceImport(ctx context.Context, id string, window int, page func(cursor string, limit int) (CustomerPage, error)) (*SyncRun, []RunItem, error)
	// ImportItems lists an import run's items with one of the outcomes
	// (all when none is given), in the order the provider listed them.
	ImportItems(ctx context.Context, orgID, id string, outcomes ...string) ([]ImportItem, error)
}

// StartSyncRun validates a run request and stores the run; the workers'
// run driver then walks it. A link_missing run needs a provider, and its
// connection is picked as a customer's is (the code may be left out when
// the organization has one connection of that provider).
func (s *Service) StartSyncRun(ctx context.Context, orgID string, mode SyncRunMode, f SyncRunFilter) (*SyncRun, error) {
	v := Validation{}
	switch mode {
	case RunResync, RunRefresh:
	case RunLinkMissing:
		if len(f.States) > 0 {
			v.Add("filter.provider_sync_status", "not_allowed_with_link_missing")
		}
		if f.HasPaymentMethod != nil {
			v.Add("filter.has_payment_method", "not_allowed_with_link_missing")
		}
	case "":
		v.Add("mode", "value_is_mandatory")
	default:
		v.Add("mode", "value_is_invalid")
	}
	for _, st := range f.States {
		if st != SyncNone && st != SyncPending && st != SyncFailed && st != SyncSynced {
			v.Add("filter.provider_sync_status", "value_is_invalid")
			break
		}
	}
	if f.CreatedAfter != nil && f.CreatedBefore != nil && f.CreatedBefore.Before(*f.CreatedAfter) {
		v.Add("filter.created_before", "must_be_after_created_after")
	}
	if mode == RunLinkMissing && f.Provider == "" {
		v.Add("filter.provider", "value_is_mandatory")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if mode == RunLinkMissing {
		code, err := s.connectionCode(orgID, f.Provider, f.ConnectionCode)
		if err != nil {
			return nil, runFieldNames(err)
		}
		f.ConnectionCode = code
	}
	r := &SyncRun{OrganizationID: orgID, Mode: mode, Filter: f}
	if err := s.Runs.AddSyncRun(ctx, r); err != nil {
		return nil, err
	}
	s.Logger.Info("sync run started", "sync_run_id", r.ID, "mode", string(mode), "total", r.Total)
	return r, nil
}

// runFieldNames renames the customer request's provider fields in err to
// the run filter's.
func runFieldNames(err error) error {
	var e *Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	renamed := *e
	renamed.Fields = map[string][]string{}
	names := map[string]string{"payment_provider": "filter.provider", "payment_provider_code": "filter.connection_code"}
	for k, reasons := range e.Fields {
		if n, ok := names[k]; ok {
			k = n
		}
		renamed.Fields[k] = reasons
	}
	// A connection that does not exist is a bad filter, not a missing run.
	if renamed.Code == ENOTFOUND {
		renamed.Code = EINVALID
	}
	return &renamed
}
