package paysync

import (
	"fmt"
	"time"
)

// SyncState is where a provider link stands.
type SyncState string

const (
	// SyncNone: a provider is chosen but nothing is to be done there.
	SyncNone SyncState = "none"
	// SyncPending: a job must create or verify the customer at the provider.
	SyncPending SyncState = "pending"
	SyncSynced  SyncState = "synced"
	// SyncFailed: the provider refused for good; LastError says why.
	SyncFailed SyncState = "failed"
)

// ProviderLink ties a customer to one connection of one provider. It is the
// outbox row: written in the same transaction as the customer, then worked
// off by the sync job named after (ID, Generation).
type ProviderLink struct {
	ID             string
	CustomerID     string
	OrganizationID string
	Provider       ProviderKind
	ConnectionCode string

	// ProviderCustomerID is given by the client (link mode) or written back
	// by the sync job (create mode).
	ProviderCustomerID string
	// LinkOnly: the client gave ProviderCustomerID, so the job only verifies
	// it exists and reads its payment methods; it never creates.
	LinkOnly         bool
	SyncWithProvider bool
	HasPaymentMethod bool

	// Generation grows each time the link needs new work at the provider
	// (another provider, another connection, a re-sync after failure). The
	// job's TaskID and the provider idempotency key both derive from it, so
	// retries of one generation can never create two provider customers.
	Generation int
	State      SyncState
	LastError  *ProviderError
	Attempts   int

	// PendingSince is when the current generation started; the Stripe
	// adapter searches before creating once idempotency keys may have expired.
	PendingSince time.Time
	SyncedAt     *time.Time
	UpdatedAt    time.Time
}

// IdempotencyKey is the key every provider call of this link's current
// generation carries.
func (l *ProviderLink) IdempotencyKey() string {
	return fmt.Sprintf("paysync-%s-%d", l.ID, l.Generation)
}

// awaitsCreation reports whether the link wants a provider customer
// created and no generation is at it: sync is on, there is no provider
// customer, and the link is neither pending nor synced.
func (l *ProviderLink) awaitsCreation() bool {
	return l.ProviderCustomerID == "" && l.SyncWithProvider && (l.State == SyncNone || l.State == SyncFailed)
}

// Ref names the unit of sync work.
func (l *ProviderLink) Ref() LinkRef { return LinkRef{ID: l.ID, Generation: l.Generation} }

// LinkRef names one generation of one link: all a task payload carries.
type LinkRef struct {
	ID         string `json:"link_id"`
	Generation int    `json:"generation"`
}

// TaskID is the asynq task id for this unit of work: at most one task per
// (link, generation) can exist in the queue.
func (r LinkRef) TaskID() string { return fmt.Sprintf("sync:%s:%d", r.ID, r.Generation) }
