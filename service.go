package paysync

import (
	"context"
	"log/slog"
	"time"
)

// Queue puts sync work on the job queue. Enqueuing one LinkRef twice is a
// no-op while its task exists. A positive delay holds the task back, as a
// provider's Retry-After asks.
type Queue interface {
	EnqueueSync(ctx context.Context, ref LinkRef, delay time.Duration) error
}

// Syncer runs one unit of sync work now: what the background job runs,
// called inline for sync=true requests. It stores the outcome itself and
// returns the classified provider error, if any.
type Syncer interface {
	Sync(ctx context.Context, ref LinkRef) error
}

// Service is the customer use case shared by every dialect: store the
// customer and its provider link in one transaction (the outbox), then hand
// the link to the queue or run it inline.
type Service struct {
	Store       Store
	Connections Connections
	Queue       Queue
	Syncer      Syncer
	// InlineTimeout bounds a sync=true request's provider work; past it the
	// job carries on in the background.
	InlineTimeout time.Duration
	Logger        *slog.Logger
	// Notifier sends client webhooks; nil sends none.
	Notifier Notifier
	// Runs keeps bulk sync runs; nil refuses them.
	Runs SyncRunStore
}

// UpsertRequest is one dialect's create or update, mapped to the domain.
type UpsertRequest struct {
	OrganizationID string
	ExternalID     string
	// Apply copies the request's customer fields onto c, new or existing.
	Apply func(c *Customer)
	// Billing is nil when the request says nothing about a provider.
	Billing *BillingRequest
	// CreateOnly makes an existing external id an ECONFLICT (Lotus, Flexprice).
	CreateOnly bool
}

// BillingRequest is the provider part of a request, as Lago defines it.
type BillingRequest struct {
	// ProviderSet: the request carries payment_provider; with Provider ""
	// (JSON null) it removes the provider link.
	ProviderSet        bool
	Provider           ProviderKind
	ConnectionCode     string
	ProviderCustomerID string
	// SyncWithProvider is nil when the request does not say.
	SyncWithProvider *bool
	// Sync runs the provider work inside the request.
	Sync bool
}

// isEmpty reports whether b says nothing about a provider.
func (b *BillingRequest) isEmpty() bool {
	return b == nil || (!b.ProviderSet && b.ProviderCustomerID == "" && b.SyncWithProvider == nil && b.ConnectionCode == "")
}

// removesProvider reports whether b is payment_provider: null.
func (b *BillingRequest) removesProvider() bool { return b != nil && b.ProviderSet && b.Provider == "" }

// optsOut reports an explicit sync_with_provider: false, which keeps a new
// customer away from a sync_new_customers connection as from any provider.
func (b *BillingRequest) optsOut() bool {
	return b != nil && b.SyncWithProvider != nil && !*b.SyncWithProvider
}

// Upsert stores the customer and its link, then starts the sync work the
// link needs. A provider failure never fails the request: it is on the link.
func (s *Service) Upsert(ctx context.Context, req UpsertRequest) (*Customer, bool, error) {
	var inline bool
	if req.Billing != nil {
		inline = req.Billing.Sync
	}
	c, created, err := s.Store.UpsertCustomer(ctx, req.OrganizationID, req.ExternalID, func(existing *Customer) (*Customer, error) {
		if existing != nil && req.CreateOnly {
			e := FieldError(ECONFLICT, "external_id", "value_already_exist", "a customer with this external id already exists")
			e.Resource = "customer"
			return nil, e
		}
		c := existing
		if c == nil {
			c = &Customer{OrganizationID: req.OrganizationID, ExternalID: req.ExternalID}
		}
		if req.Apply != nil {
			req.Apply(c)
		}
		link, err := s.planLink(c, existing == nil, req.Billing)
		if err != nil {
			return nil, err
		}
		c.Link = link
		return c, nil
	})
	if err != nil {
		return nil, false, err
	}
	if c.Link == nil || c.Link.State != SyncPending {
		return c, created, nil
	}
	return s.dispatch(ctx, c, created, inline)
}

// Resync starts a new generation of the customer's provider work: after a
// permanent failure, or to re-read the payment methods of a synced link.
func (s *Service) Resync(ctx context.Context, orgID, externalID string, inline bool) (*Customer, error) {
	c, _, err := s.Store.UpsertCustomer(ctx, orgID, externalID, func(existing *Customer) (*Customer, error) {
		if existing == nil {
			return nil, &Error{Code: ENOTFOUND, Resource: "customer", Message: "customer not found"}
		}
		l := existing.Link
		if l == nil || (l.State == SyncNone && l.ProviderCustomerID == "") {
			return nil, Errorf(EINVALID, "the customer has nothing to sync at a provider")
		}
		if l.State != SyncPending {
			// A link that was created keeps its id: the next generation only verifies it.
			l.LinkOnly = l.LinkOnly || l.ProviderCustomerID != ""
			startGeneration(l)
		}
		return existing, nil
	})
	if err != nil {
		return nil, err
	}
	c, _, err = s.dispatch(ctx, c, false, inline)
	return c, err
}

// dispatch runs or enqueues the pending link of a committed customer. The
// customer is committed: a client that hangs up must not cut the inline
// attempt short (it would be stored as a failure) nor the enqueue.
func (s *Service) dispatch(ctx context.Context, c *Customer, created, inline bool) (*Customer, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.InlineTimeout+afterCommitTimeout)
	defer cancel()
	ref := c.Link.Ref()
	var delay time.Duration
	if inline {
		ictx, cancel := context.WithTimeout(ctx, s.InlineTimeout)
		err := s.Syncer.Sync(ictx, ref)
		cancel()
		if err == nil || !IsRetryable(err) {
			return s.reload(ctx, c, created)
		}
		pe := AsProviderError(c.Link.Provider, err)
		delay = pe.RetryAfter
		s.Logger.Info("inline sync did not finish, continuing in the background", "link_id", ref.ID, "error_code", pe.Code, "retry_after", pe.RetryAfter)
	}
	if err := s.Queue.EnqueueSync(ctx, ref, delay); err != nil {
		// The link is committed as pending: the reconciler enqueues it later.
		s.Logger.Warn("enqueue failed; the reconciler will retry", "link_id", ref.ID, "err", err)
	}
	if inline {
		return s.reload(ctx, c, created)
	}
	return c, created, nil
}

func (s *Service) reload(ctx context.Context, c *Customer, created bool) (*Customer, bool, error) {
	fresh, err := s.Store.Customer(ctx, c.OrganizationID, CustomerKey{ID: c.ID})
	if err != nil {
		return nil, false, err
	}
	return fresh, created, nil
}

// planLink applies Lago's provider semantics (Customers::UpsertFromApiService
// and PaymentProviderCustomers::CreateOrUpdateService) to the customer's link
// in two steps: which connection the request puts the customer on, then
// whether that starts a new generation. Nothing happens at the provider
// unless sync_with_provider is on or a provider customer id is given.
func (s *Service) planLink(c *Customer, isNew bool, b *BillingRequest) (*ProviderLink, error) {
	if b.removesProvider() {
		return nil, nil // payment_provider: null removes the link
	}
	kind, code, err := s.requestedConnection(c.OrganizationID, c.Link, b)
	if err != nil {
		return nil, err
	}
	if kind == "" {
		// No provider to move to: the link stays as it is, but a
		// connection flagged sync_new_customers may take a new customer.
		if isNew && c.Link == nil && !b.optsOut() {
			return s.autoLink(c.OrganizationID), nil
		}
		return c.Link, nil
	}
	return nextLink(c.Link, kind, code, b), nil
}

// requestedConnection is the connection the request puts the customer on:
// the code it names, else the linked one of that provider, else the
// provider's only connection. kind is "" when there is no provider.
func (s *Service) requestedConnection(orgID string, link *ProviderLink, b *BillingRequest) (kind ProviderKind, code string, err error) {
	kind, err = requestedProvider(link, b)
	if kind == "" || err != nil {
		return "", "", err
	}
	code = b.ConnectionCode
	if code == "" && link != nil && link.Provider == kind {
		code = link.ConnectionCode
	}
	code, err = s.connectionCode(orgID, kind, code)
	return kind, code, err
}

// requestedProvider is the provider the request names, else the linked
// one; "" when the request says nothing about a provider, or names none
// and none is linked.
func requestedProvider(link *ProviderLink, b *BillingRequest) (ProviderKind, error) {
	switch {
	case b.isEmpty():
		return "", nil
	case b.Provider != "":
		return b.Provider, nil
	case link != nil && link.Provider != "":
		return link.Provider, nil
	case b.ProviderCustomerID != "":
		return "", FieldError(EINVALID, "payment_provider", "value_is_mandatory", "payment_provider is required with provider_customer_id")
	}
	return "", nil
}

// nextLink is link once the request has put it on connection (kind,
// code): with a new generation when there is work to do at the provider.
func nextLink(link *ProviderLink, kind ProviderKind, code string, b *BillingRequest) *ProviderLink {
	link = onConnection(link, kind, code)
	if b.SyncWithProvider != nil {
		link.SyncWithProvider = *b.SyncWithProvider
	}
	switch {
	case b.ProviderCustomerID != "" && b.ProviderCustomerID != link.ProviderCustomerID:
		link.ProviderCustomerID = b.ProviderCustomerID
		link.LinkOnly = true
		link.HasPaymentMethod = false
		startGeneration(link)
	case link.awaitsCreation():
		link.LinkOnly = false
		startGeneration(link)
	}
	return link
}

// onConnection returns link when it is on connection (kind, code), else a
// link there with nothing to do yet. The old provider customer is left
// behind, as Lago discards it, and the new one starts from scratch.
func onConnection(link *ProviderLink, kind ProviderKind, code string) *ProviderLink {
	if link != nil && link.Provider == kind && link.ConnectionCode == code {
		return link
	}
	next := &ProviderLink{Provider: kind, ConnectionCode: code, State: SyncNone}
	if link != nil {
		// A new generation even with nothing to do yet: a job still
		// running for the old provider must find its result refused.
		next.ID, next.Generation = link.ID, link.Generation+1
	}
	return next
}

// autoLink links a new customer to the organization's connection flagged
// sync_new_customers, if any.
func (s *Service) autoLink(orgID string) *ProviderLink {
	for _, conn := range s.Connections.List(orgID, "") {
		if conn.SyncNewCustomers {
			l := &ProviderLink{Provider: conn.Provider, ConnectionCode: conn.Code, SyncWithProvider: true}
			startGeneration(l)
			return l
		}
	}
	return nil
}

// connectionCode picks the connection as Lago does: the code when given,
// else the organization's only connection of that provider.
func (s *Service) connectionCode(orgID string, kind ProviderKind, code string) (string, error) {
	conns := s.Connections.List(orgID, kind)
	if code != "" {
		for _, c := range conns {
			if c.Code == code {
				return code, nil
			}
		}
		return "", FieldError(EINVALID, "payment_provider_code", "payment_provider_not_found", "no "+string(kind)+" connection with code "+code)
	}
	switch len(conns) {
	case 1:
		return conns[0].Code, nil
	case 0:
		return "", FieldError(EINVALID, "payment_provider", "payment_provider_not_found", "no "+string(kind)+" connection is configured")
	default:
		return "", FieldError(EMISSINGCONFIG, "payment_provider_code", "payment_provider_code_missing",
			"payment_provider_code is required: the organization has several "+string(kind)+" connections")
	}
}

// afterCommitTimeout bounds the enqueue and re-read after a commit.
const afterCommitTimeout = 5 * time.Second

// startGeneration makes the link pending under a new generation, so that
// its TaskID and idempotency key are new.
func startGeneration(l *ProviderLink) {
	l.Generation++
	l.State = SyncPending
	l.LastError = nil
	l.Attempts = 0
	l.PendingSince = time.Now().UTC()
	if !l.LinkOnly {
		l.ProviderCustomerID = ""
		l.HasPaymentMethod = false
	}
}
