package paysync

import (
	"context"
	"time"
)

// Store is paysync's persistence, implemented for PostgreSQL and SQLite by
// package store. Every customer method is scoped to an organization.
type Store interface {
	// UpsertCustomer loads the organization's customer with externalID (nil
	// when there is none) inside one transaction, holding a write lock on
	// it, calls change, and writes what change returns: the customer and its
	// Link (a nil Link removes the link). The store fills empty IDs,
	// SequentialID and timestamps. An error from change aborts the
	// transaction and is returned as is. created tells an insert from an update.
	UpsertCustomer(ctx context.Context, orgID, externalID string, change func(existing *Customer) (*Customer, error)) (c *Customer, created bool, err error)
	// Customer finds one customer, with its link, by paysync id or external id.
	Customer(ctx context.Context, orgID string, by CustomerKey) (*Customer, error)
	// Customers lists the organization's customers that match f, paged and
	// ordered as f says; total counts every match.
	Customers(ctx context.Context, orgID string, f CustomerFilter) (customers []*Customer, total int, err error)
	// DeleteCustomer removes a customer and its link.
	DeleteCustomer(ctx context.Context, orgID, customerID string) error

	// LinkCustomer loads the customer that owns link id, with the link set.
	LinkCustomer(ctx context.Context, linkID string) (*Customer, error)
	// RecordSync stores the outcome of one sync attempt, only if the link is
	// still at ref's generation and a synced link is not downgraded. It
	// reports whether the row was updated.
	RecordSync(ctx context.Context, ref LinkRef, r SyncResult) (bool, error)
	// PendingLinks lists up to limit links pending since before the given
	// time, oldest first, after the cursor, and returns the cursor of the
	// last one listed (after itself when none is).
	PendingLinks(ctx context.Context, before time.Time, after PendingCursor, limit int) ([]LinkRef, PendingCursor, error)

	// EnsureOrganization returns the organization with name, creating it.
	EnsureOrganization(ctx context.Context, name string) (*Organization, error)
	// AddAPIKey stores the hash of a key for orgID; adding it twice is a no-op.
	AddAPIKey(ctx context.Context, orgID string, keyHash string) error
	// RevokeAPIKey removes a key hash; an unknown one is ENOTFOUND.
	RevokeAPIKey(ctx context.Context, keyHash string) error
	// CountAPIKeys counts the organization's keys.
	CountAPIKeys(ctx context.Context, orgID string) (int, error)
	// OrganizationByAPIKey finds the organization a key hash authenticates.
	OrganizationByAPIKey(ctx context.Context, keyHash string) (*Organization, error)

	Ping(ctx context.Context) error
	Close() error
}

// PaymentMethodStore keeps what refreshes read of the payment methods at
// the providers: the customer an event is about, what a re-read found, and
// the links due a scheduled re-read.
type PaymentMethodStore interface {
	// CustomerByProviderID finds the customer linked to a provider customer
	// on one connection, with its link.
	CustomerByProviderID(ctx context.Context, orgID string, kind ProviderKind, code, providerCustomerID string) (*Customer, error)
	// RecordPaymentMethod stores what a refresh read at checkedAt about
	// providerCustomerID, unless a refresh that read later already stored
	// its answer or the link no longer is a synced link to that customer;
	// it reports whether has_payment_method changed, and records a
	// customer.payment_method_updated Notification with the change.
	RecordPaymentMethod(ctx context.Context, linkID, providerCustomerID string, has bool, checkedAt time.Time) (changed bool, err error)
	// LinksToRefresh lists synced links without a payment method whose last
	// check is older than checkedBefore (or that were never checked), oldest first.
	LinksToRefresh(ctx context.Context, checkedBefore time.Time, limit int) ([]string, error)
}

// CustomerKey selects one customer: exactly one of the fields is set.
type CustomerKey struct {
	ID         string
	ExternalID string
	Email      string // first match, case-insensitive
}

// CustomerFilter selects and pages a customer listing. The zero value is
// the first 20 of every customer, oldest first. Conditions combine with
// AND; a condition left at its zero value (nil, empty) selects everyone.
type CustomerFilter struct {
	// Page and PerPage page the listing: Page starts at 1 (below 1 is the
	// first page), PerPage defaults to 20 and is capped at 100. They are
	// ignored when Limit is above 0 or All is set.
	Page    int
	PerPage int
	// Offset and Limit page the listing by position instead, when Limit is
	// above 0: at most Limit customers (capped at 1000) after skipping
	// Offset matches (below 0 is 0). Ignored when All is set.
	Offset int
	Limit  int
	// All lists every match in one read, unpaged.
	All bool
	// Desc lists newest first: by SequentialID descending rather than
	// ascending. Creation order is SequentialID's, not CreatedAt's, which a
	// caller may set.
	Desc bool

	// IDs keeps the customers whose ID is one of these.
	IDs []string
	// ExternalIDs keeps the customers whose ExternalID is one of these.
	// IDs and ExternalIDs hold at most 10,000 ids together (each is a query
	// parameter); more is an EINVALID error.
	ExternalIDs []string
	// Email keeps the customers whose email equals it but for case, compared
	// as CustomerKey.Email compares (SQL lower(), which folds ASCII only on
	// SQLite).
	Email string
	// Metadata keeps the customers that have every pair: for each key, the
	// value that Customer.MetadataValue reads (the first item with that key;
	// Lago allows repeated keys) equals the given one, byte for byte.
	Metadata map[string]string
	// CreatedFrom and CreatedTo bound CreatedAt, both inclusive; nil leaves
	// that side open.
	CreatedFrom *time.Time
	CreatedTo   *time.Time
}

// SyncResult is the outcome of one sync attempt.
type SyncResult struct {
	State              SyncState
	ProviderCustomerID string // kept as is when empty
	HasPaymentMethod   bool
	Error              *ProviderError // nil clears the last error
	// Notify, when set, is a client webhook type recorded as a
	// Notification in the same transaction, if the result is applied.
	Notify string
}

// PendingCursor is a place in the listing of pending links: the
// pending_since and id of the last link listed; the zero cursor is the start.
// Paging by it moves on even while the links listed stay pending.
type PendingCursor struct {
	Since time.Time
	ID    string
}
