package stripeemu

import (
	"context"
	"encoding/base64"
	"slices"
	"time"

	"github.com/paysync/paysync/sandbox/state"
)

// Kinds of the objects the emulator keeps in its state store.
const (
	kindCustomer = "customer"
	kindMethod   = "payment_method"
	kindSession  = "checkout_session"
	kindReplay   = "idempotency_key"
)

// The stored forms of the objects: Seq keeps creation order, which list
// endpoints answer in.
type (
	customerRecord struct {
		Seq      int
		Customer *Customer
	}
	methodRecord struct {
		Seq          int
		ID, Customer string
		Created      int64
		ExpYear      int
	}
	sessionRecord struct {
		ID, Customer, SuccessURL, CancelURL, ClientReference, SetupIntent, Status, URL string
		Created                                                                        int64
		PaymentMethodTypes                                                             []string
		Metadata                                                                       map[string]string
	}
	// replayRecord is saved under its key's base64: the key holds a NUL,
	// which PostgreSQL text cannot.
	replayRecord struct {
		Key                  string
		Method, Path, Params string
		At                   time.Time
		Status               int
		Body                 []byte
	}
)

// NewWithState returns an emulator holding the objects st kept, which
// writes every change through to st.
func NewWithState(ctx context.Context, st *state.Store) (*Emulator, error) {
	e := New()
	e.state = st
	e.seqs = map[string]int{}
	type ordered struct {
		seq int
		id  string
	}
	var custs, methods []ordered
	err := state.Load(ctx, st, kindCustomer, func(id string, r *customerRecord) {
		e.customers[id] = r.Customer
		e.seqs[id] = r.Seq
		custs = append(custs, ordered{r.Seq, id})
	})
	if err == nil {
		err = state.Load(ctx, st, kindMethod, func(id string, r *methodRecord) {
			e.methods[id] = &paymentMethod{id: r.ID, customer: r.Customer, created: r.Created, expYear: r.ExpYear}
			e.seqs[id] = r.Seq
			methods = append(methods, ordered{r.Seq, id})
		})
	}
	if err == nil {
		err = state.Load(ctx, st, kindSession, func(id string, r *sessionRecord) {
			e.sessions[id] = &session{id: r.ID, created: r.Created, customer: r.Customer, paymentMethodTypes: r.PaymentMethodTypes,
				successURL: r.SuccessURL, cancelURL: r.CancelURL, clientReference: r.ClientReference, metadata: r.Metadata,
				setupIntent: r.SetupIntent, status: r.Status, url: r.URL}
		})
	}
	if err == nil {
		err = state.Load(ctx, st, kindReplay, func(_ string, r *replayRecord) {
			e.replays[r.Key] = &replay{method: r.Method, path: r.Path, params: r.Params, at: r.At, status: r.Status, body: r.Body}
		})
	}
	if err != nil {
		return nil, err
	}
	bySeq := func(a, b ordered) int { return a.seq - b.seq }
	slices.SortFunc(custs, bySeq)
	for _, c := range custs {
		e.place[c.id] = len(e.created)
		e.created = append(e.created, c.id)
	}
	slices.SortFunc(methods, bySeq)
	for _, m := range methods {
		if pm := e.methods[m.id]; pm.customer != "" {
			e.byOwner[pm.customer] = append(e.byOwner[pm.customer], pm.id)
		}
	}
	return e, nil
}

// The save methods write one object through; e.mu is held. Without a
// state store they do nothing.

// sequence returns the creation rank of the customer or payment method id,
// giving the next one to a new id.
func (e *Emulator) sequence(id string) int {
	seq, ok := e.seqs[id]
	if !ok {
		seq = len(e.seqs)
		e.seqs[id] = seq
	}
	return seq
}

func (e *Emulator) saveCustomer(c *Customer) {
	if e.state != nil {
		e.state.Put(kindCustomer, c.ID, customerRecord{Seq: e.sequence(c.ID), Customer: c})
	}
}

func (e *Emulator) saveMethod(pm *paymentMethod) {
	if e.state != nil {
		e.state.Put(kindMethod, pm.id, methodRecord{Seq: e.sequence(pm.id), ID: pm.id, Customer: pm.customer, Created: pm.created, ExpYear: pm.expYear})
	}
}

func (e *Emulator) saveSession(s *session) {
	if e.state == nil {
		return
	}
	e.state.Put(kindSession, s.id, sessionRecord{ID: s.id, Customer: s.customer, SuccessURL: s.successURL, CancelURL: s.cancelURL,
		ClientReference: s.clientReference, SetupIntent: s.setupIntent, Status: s.status, URL: s.url, Created: s.created,
		PaymentMethodTypes: s.paymentMethodTypes, Metadata: s.metadata})
}

func (e *Emulator) saveReplay(key string, r *replay) {
	if e.state == nil {
		return
	}
	e.state.Put(kindReplay, base64.RawURLEncoding.EncodeToString([]byte(key)), replayRecord{Key: key, Method: r.method, Path: r.path, Params: r.params, At: r.at, Status: r.status, Body: r.body})
}
