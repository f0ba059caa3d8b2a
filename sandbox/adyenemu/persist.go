package adyenemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/paysync/paysync/sandbox/state"
)

// Kinds of the objects the emulator keeps in its state store.
const (
	kindShopper = "shopper"
	kindLink    = "payment_link"
	kindReplay  = "idempotency_key"
)

// The stored forms of the objects.
type (
	// methodRecord is a stored method with the merchant account its JSON hides.
	methodRecord struct {
		Method          storedMethod
		MerchantAccount string
	}
	linkRecord struct {
		ID, Status, ShopperReference, ReturnURL string
		StoreMethod                             bool
		// Fields are decoded as a request's are: numbers stay json.Numbers.
		Fields json.RawMessage
	}
	// replayRecord is saved under its scope's base64, as scopes are any text.
	replayRecord struct {
		Scope  string
		Status int
		Body   []byte
	}
)

// NewWithState returns an emulator holding the objects st kept, which
// writes every change through to st.
func NewWithState(ctx context.Context, st *state.Store) (*Emulator, error) {
	e := New()
	e.state = st
	err := state.Load(ctx, st, kindShopper, func(ref string, ms *[]methodRecord) {
		methods := []storedMethod(nil)
		for _, m := range *ms {
			m.Method.merchantAccount = m.MerchantAccount
			methods = append(methods, m.Method)
		}
		e.shoppers[ref] = methods
	})
	if err == nil {
		err = state.Load(ctx, st, kindLink, func(id string, r *linkRecord) {
			l := &paymentLink{id: r.ID, status: r.Status, shopperReference: r.ShopperReference, returnURL: r.ReturnURL,
				storeMethod: r.StoreMethod}
			dec := json.NewDecoder(bytes.NewReader(r.Fields))
			dec.UseNumber()
			if dec.Decode(&l.fields) == nil {
				e.links[id] = l
			}
		})
	}
	if err == nil {
		err = state.Load(ctx, st, kindReplay, func(_ string, r *replayRecord) { e.replays[r.Scope] = replay{status: r.Status, body: r.Body} })
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// The save methods write one object through; e.mu is held. Without a
// state store they do nothing.

func (e *Emulator) saveShopper(ref string) {
	if e.state == nil {
		return
	}
	ms := []methodRecord{}
	for _, m := range e.shoppers[ref] {
		ms = append(ms, methodRecord{Method: m, MerchantAccount: m.merchantAccount})
	}
	e.state.Put(kindShopper, ref, ms)
}

func (e *Emulator) saveLink(l *paymentLink) {
	if e.state == nil {
		return
	}
	fields, err := json.Marshal(l.fields)
	if err != nil {
		return // fields came from JSON: they encode
	}
	e.state.Put(kindLink, l.id, linkRecord{ID: l.id, Status: l.status, ShopperReference: l.shopperReference,
		ReturnURL: l.returnURL, StoreMethod: l.storeMethod, Fields: fields})
}

func (e *Emulator) saveReplay(scope string, r replay) {
	if e.state != nil {
		e.state.Put(kindReplay, base64.RawURLEncoding.EncodeToString([]byte(scope)), replayRecord{Scope: scope, Status: r.status, Body: r.body})
	}
}
