package gocardlessemu

import (
	"net/http"
	"time"

	"github.com/paysync/paysync/sandbox/seed"
	"github.com/paysync/paysync/sandbox/state"
)

// sandboxSeed is POST /_sandbox/seed: it creates the numbered customers a
// seed.Request describes, as many POST /customers would, saved in one
// transaction.
func (e *Emulator) sandboxSeed(w http.ResponseWriter, r *http.Request) {
	q, ok := seed.Decode(w, r)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := q.Customers(len(e.customers))
	created := timestamp(time.Now())
	ids := make([]string, len(cs))
	var objs []state.Object
	for i, s := range cs {
		given, family, email, lang := s.GivenName, s.FamilyName, s.Email, "en"
		meta := s.Metadata
		if meta == nil {
			meta = map[string]string{}
		}
		e.seq++
		c := &customer{ID: e.uniqueID("CU"), CreatedAt: created, seq: e.seq, customerFields: customerFields{
			GivenName: &given, FamilyName: &family, Email: &email, Language: &lang, Metadata: meta}}
		e.customers[c.ID] = c
		ids[i] = c.ID
		if e.state != nil {
			objs = append(objs, state.Object{ID: c.ID, Value: customerRecord{Seq: c.seq, Customer: c}})
		}
	}
	if err := e.state.PutAll(kindCustomer, objs); err != nil {
		for _, id := range ids {
			delete(e.customers, id)
		}
		e.seq -= len(ids)
		seed.Unsaved(w, err)
		return
	}
	seed.Reply(w, cs, ids)
}
