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
	// Customers pages through an organization's customers, oldest first.
	Customers(ctx context.Context, orgID string, f CustomerFilter) (customers []*Customer, total int, err error)
	// DeleteCustomer removes a customer and its link.
	DeleteCustomer(ctx context.Context, orgID, customerID string) error

	// LinkCustomer loads the customer that owns link id, with the link set.
	LinkCustomer(ctx context.Context, linkID string) (*Customer, error)
	// RecordSync stores the outcome of one sync attempt, only if the link is
	// still at ref's generation and a synced link is not downgraded. It
	// reports whether the row was updated.
	RecordSync(ctx context.Context, ref LinkRef, r SyncResult) (bool, error)
	// PendingLinks lists links pending since before the given time.
	PendingLinks(ctx context.Context, before time.Time, limit int) ([]LinkRef, error)

	// EnsureOrganization returns the organization with name, creating it.
	EnsureOrganization(ctx context.Context, name string) (*Organization, error)
	// AddAPIKey stores the hash of a key for orgID; adding it twice is a no-op.
	AddAPIKey(ctx context.Context, orgID string, keyHash string) error
	// CountAPIKeys counts the organization's keys.
	CountAPIKeys(ctx context.Context, orgID string) (int, error)
	// OrganizationByAPIKey finds the organization a key hash authenticates.
	OrganizationByAPIKey(ctx context.Context, keyHash string) (*Organization, error)

	Ping(ctx context.Context) error
	Close() error
}

// CustomerKey selects one customer: exactly one of the fields is set.
type CustomerKey struct {
	ID         string
	ExternalID string
	Email      string // first match, case-insensitive
}

// CustomerFilter pages a customer listing. Page starts at 1.
type CustomerFilter struct {
	Page    int
	PerPage int
}

// SyncResult is the outcome of one sync attempt.
type SyncResult struct {
	State              SyncState
	ProviderCustomerID string // kept as is when empty
	HasPaymentMethod   bool
	Error              *ProviderError // nil clears the last error
}
