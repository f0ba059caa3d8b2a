package gocardlessemu

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/paysync/paysync/sandbox/state"
)

// Kinds of the objects the emulator keeps in its state store.
const (
	kindCreditor    = "creditor"
	kindCustomer    = "customer"
	kindMandate     = "mandate"
	kindBilling     = "billing_request"
	kindFlow        = "billing_request_flow"
	kindIdempotency = "idempotency_key"
)

// The stored forms of the objects: the API's JSON plus what it hides.
type (
	customerRecord struct {
		Seq      int
		Removed  bool
		Customer *customer
	}
	mandateRecord struct {
		Seq     int
		Mandate *mandate
	}
	flowRecord struct {
		Expires time.Time
		Done    bool
		Flow    *flow
	}
	// idempotencyRecord is saved under its key's base64, as keys are any text.
	idempotencyRecord struct{ Key, ID string }
)

// NewWithState returns an emulator holding the objects st kept, which
// writes every change through to st.
func NewWithState(ctx context.Context, st *state.Store) (*Emulator, error) {
	e := New()
	e.state = st
	if st == nil {
		return e, nil
	}
	loaded := false
	err := state.Load(ctx, st, kindCreditor, func(_ string, id *string) { e.creditorID, loaded = *id, true })
	if err == nil && !loaded {
		st.Put(kindCreditor, kindCreditor, e.creditorID)
	}
	if err == nil {
		err = state.Load(ctx, st, kindCustomer, func(id string, r *customerRecord) {
			r.Customer.seq, r.Customer.removed = r.Seq, r.Removed
			e.customers[id] = r.Customer
			e.seq = max(e.seq, r.Seq)
		})
	}
	if err == nil {
		err = state.Load(ctx, st, kindMandate, func(id string, r *mandateRecord) {
			r.Mandate.seq = r.Seq
			e.mandates[id] = r.Mandate
			e.seq = max(e.seq, r.Seq)
		})
	}
	if err == nil {
		err = state.Load(ctx, st, kindBilling, func(id string, br *billingRequest) { e.billingRequests[id] = br })
	}
	if err == nil {
		err = state.Load(ctx, st, kindFlow, func(id string, r *flowRecord) {
			r.Flow.expires, r.Flow.done = r.Expires, r.Done
			e.flows[id] = r.Flow
		})
	}
	if err == nil {
		err = state.Load(ctx, st, kindIdempotency, func(_ string, r *idempotencyRecord) { e.idempotency[r.Key] = r.ID })
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// The save methods write one object through; e.mu is held. Without a
// state store they do nothing.

func (e *Emulator) saveCustomer(c *customer) {
	if e.state != nil {
		e.state.Put(kindCustomer, c.ID, customerRecord{Seq: c.seq, Removed: c.removed, Customer: c})
	}
}

func (e *Emulator) saveMandate(m *mandate) {
	if e.state != nil {
		e.state.Put(kindMandate, m.ID, mandateRecord{Seq: m.seq, Mandate: m})
	}
}

func (e *Emulator) saveBillingRequest(br *billingRequest) {
	if e.state != nil {
		e.state.Put(kindBilling, br.ID, br)
	}
}

func (e *Emulator) saveFlow(f *flow) {
	if e.state != nil {
		e.state.Put(kindFlow, f.ID, flowRecord{Expires: f.expires, Done: f.done, Flow: f})
	}
}

func (e *Emulator) saveIdempotency(key, id string) {
	if e.state != nil {
		e.state.Put(kindIdempotency, base64.RawURLEncoding.EncodeToString([]byte(key)), idempotencyRecord{Key: key, ID: id})
	}
}
