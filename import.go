package paysync

import (
	"context"
	"slices"
)

// RunImport adopts the customers a provider already has: it pages through
// the connection's customers, matches each to a paysync customer and links
// the matched ones (verify and read payment methods), creating nothing at
// the provider.
const RunImport SyncRunMode = "import"

// ListedCustomer is one customer read from a provider's list.
type ListedCustomer struct {
	ID       string
	Email    string
	Name     string
	Metadata map[string]string
}

// CustomerPage is one page of a provider's customer list; Next is the
// cursor of the following page, "" after the last.
type CustomerPage struct {
	Customers []ListedCustomer
	Next      string
}

// CustomerLister is implemented by the adapters of providers that can list
// their customers (every one but Adyen, which has no customer object).
type CustomerLister interface {
	// ListCustomers reads the page at cursor ("" is the first), at most
	// limit customers. The order is stable under inserts: customers created
	// after the first page was read are not listed.
	ListCustomers(ctx context.Context, cursor string, limit int) (CustomerPage, error)
}

// Ways an import matches a provider customer to a paysync customer, tried
// in the order given.
const (
	// MatchMetadata: the paysync ids that paysync's adapters write in the
	// provider's metadata (paysync_customer_id, paysync_external_id).
	MatchMetadata = "metadata"
	// MatchExternalID: an external id that another integration wrote in
	// the provider's metadata (external_id, customer_id — Lago's Stripe
	// integration writes the latter).
	MatchExternalID = "external_id"
	// MatchEmail: the one paysync customer with that email; several are
	// ambiguous, and an ambiguous match is reported, never guessed.
	MatchEmail = "email"
)

// DefaultMatch is every way, surest first.
var DefaultMatch = []string{MatchMetadata, MatchExternalID, MatchEmail}

// Metadata keys that name a paysync customer, and those that other
// integrations use for the billing system's external id.
var (
	MetaPaysyncCustomerID = "paysync_customer_id"
	MetaPaysyncExternalID = "paysync_external_id"
	ExternalIDMetaKeys    = []string{"external_id", "customer_id", "external_customer_id"}
)

// ImportOptions shape an import run.
type ImportOptions struct {
	Match []string `json:"match,omitempty"`
	// CreateMissing creates a paysync customer for each provider customer
	// that matches none, linked to it.
	CreateMissing bool `json:"create_missing,omitempty"`
	// DryRun records what the run would do and changes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// Import item outcomes. Linked and created are reached once the link's
// verification synced; the others are final when the item is recorded.
const (
	ImportLinked        = "linked"
	ImportCreated       = "created"
	ImportFailed        = "failed"
	ImportSkipped       = "skipped"
	ImportAmbiguous     = "ambiguous"
	ImportUnmatched     = "unmatched"
	ImportAlreadyLinked = "already_linked"
	ImportConflict      = "conflict"
	ImportWouldLink     = "would_link"
	ImportWouldCreate   = "would_create"
)

// ImportItem is one provider customer an import run saw.
type ImportItem struct {
	ProviderCustomerID string
	CustomerID         string
	MatchedBy          string
	Outcome            string
	Reason             string
	Email              string
}

// ImportSummary counts an import run's items by outcome.
type ImportSummary map[string]int

// validMatch reports the first unknown way in match.
func validMatch(match []string) (string, bool) {
	for _, m := range match {
		if !slices.Contains(DefaultMatch, m) {
			return m, false
		}
	}
	return "", true
}

// StartImport validates an import request and stores the run. The
// connection must list its customers: Adyen's cannot.
func (s *Service) StartImport(ctx context.Context, orgID string, kind ProviderKind, code string, o ImportOptions) (*SyncRun, error) {
	v := Validation{}
	if kind == "" && code != "" {
		// A code alone names the connection when no other provider's shares it.
		for _, c := range s.Connections.List(orgID, "") {
			if c.Code == code && kind == "" {
				kind = c.Provider
			} else if c.Code == code {
				v.Add("filter.provider", "value_is_mandatory")
			}
		}
		if kind == "" {
			v.Add("filter.connection_code", "payment_provider_not_found")
		}
	}
	if kind == "" && code == "" {
		v.Add("filter.provider", "value_is_mandatory")
	}
	if _, ok := validMatch(o.Match); !ok {
		v.Add("options.match", "value_is_invalid")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	code, err := s.connectionCode(orgID, kind, code)
	if err != nil {
		return nil, runFieldNames(err)
	}
	p, err := s.Connections.Provider(orgID, kind, code)
	if err != nil {
		return nil, runFieldNames(err)
	}
	if _, ok := p.(CustomerLister); !ok {
		return nil, &Error{Code: ENOTSUPPORTED, Message: string(kind) + " has no customer list to import from: " +
			"its customers are identified by the shopper reference paysync already sends",
			Fields: map[string][]string{"filter.provider": {"feature_not_supported"}}}
	}
	if len(o.Match) == 0 {
		o.Match = DefaultMatch
	}
	r := &SyncRun{OrganizationID: orgID, Mode: RunImport, Filter: SyncRunFilter{Provider: kind, ConnectionCode: code}, Import: &o}
	if err := s.Runs.AddSyncRun(ctx, r); err != nil {
		return nil, err
	}
	s.Logger.Info("import run started", "sync_run_id", r.ID, "provider", string(kind), "dry_run", o.DryRun)
	return r, nil
}
