package stripeemu

import (
	"net/http"

	"github.com/paysync/paysync/sandbox/seed"
	"github.com/paysync/paysync/sandbox/state"
)

// sandboxSeed is POST /_sandbox/seed: it creates the numbered customers a
// seed.Request describes, as many POST /v1/customers would, saved in one
// transaction.
func (e *Emulator) sandboxSeed(w http.ResponseWriter, r *http.Request) {
	q, ok := seed.Decode(w, r)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := q.Customers(len(e.created))
	created := e.now().Unix()
	ids := make([]string, len(cs))
	var objs []state.Object
	for i, s := range cs {
		c := &Customer{ID: newID("cus_", 14), Created: created, Name: s.Name, Email: s.Email, Metadata: s.Metadata}
		e.addCustomer(c)
		ids[i] = c.ID
		if e.state != nil {
			objs = append(objs, state.Object{ID: c.ID, Value: customerRecord{Seq: e.sequence(c.ID), Customer: c}})
		}
	}
	if err := e.state.PutAll(kindCustomer, objs); err != nil {
		for _, id := range ids {
			delete(e.customers, id)
			delete(e.place, id)
			delete(e.seqs, id)
		}
		e.created = e.created[:len(e.created)-len(ids)]
		seed.Unsaved(w, err)
		return
	}
	seed.Reply(w, cs, ids)
}
