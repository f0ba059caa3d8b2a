package braintreeemu

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/paysync/paysync/sandbox/seed"
	"github.com/paysync/paysync/sandbox/state"
)

// Braintree's search limits: advanced_search_ids answers at most
// maxSearchIDs ids, and the SDKs fetch them searchPageSize at a time.
const (
	maxSearchIDs   = 50_000
	searchPageSize = 50
)

// searchParams is a customer search, in braintree-go's XML
// (<search><created_at><min type="datetime">...</min></created_at>
// <ids type="array"><item>...</item></ids></search>) or the Node SDK's
// JSON ({"search": {"created_at": {"min": ...}, "ids": [...]}}). The
// emulator models the criteria an import needs: created_at and ids.
type searchParams struct {
	CreatedAt     timeRange `xml:"created_at" json:"created_at"`
	CreatedAtDash timeRange `xml:"created-at" json:"-"`
	IDs           []string  `xml:"-" json:"ids"`
	XMLIDs        *struct {
		Items []string `xml:"item"`
	} `xml:"ids" json:"-"`
}

// timeRange is a range criterion; min and max are inclusive, as at Braintree.
type timeRange struct {
	Is  string `xml:"is" json:"is"`
	Min string `xml:"min" json:"min"`
	Max string `xml:"max" json:"max"`
}

// filter is a decoded search.
type filter struct {
	min, max time.Time // zero: unbounded
	ids      map[string]bool
	byIDs    bool
}

func (p *searchParams) filter() (filter, bool) {
	r := p.CreatedAt
	if r == (timeRange{}) {
		r = p.CreatedAtDash
	}
	var f filter
	parse := func(s string, into *time.Time) bool {
		if s == "" {
			return true
		}
		t, err := time.Parse(time.RFC3339, s)
		*into = t
		return err == nil
	}
	if r.Is != "" {
		r.Min, r.Max = r.Is, r.Is
	}
	if !parse(r.Min, &f.min) || !parse(r.Max, &f.max) {
		return f, false
	}
	ids := p.IDs
	if p.XMLIDs != nil {
		ids, f.byIDs = p.XMLIDs.Items, true
	}
	if p.IDs != nil {
		f.byIDs = true
	}
	f.ids = make(map[string]bool, len(ids))
	for _, id := range ids {
		f.ids[id] = true
	}
	return f, true
}

func (f filter) match(c *customer) bool {
	return (f.min.IsZero() || !c.createdAt.Before(f.min)) && (f.max.IsZero() || !c.createdAt.After(f.max)) &&
		(!f.byIDs || f.ids[c.id])
}

// search returns the customers matching the request's search, oldest
// first; on bad input it answers 400 and reports false. e.mu is held.
func (e *Emulator) search(w http.ResponseWriter, r *http.Request) ([]*customer, bool) {
	var in searchParams
	if !decode(w, r, "search", &in) {
		return nil, false
	}
	f, ok := in.filter()
	if !ok {
		writeEmpty(w, http.StatusBadRequest)
		return nil, false
	}
	var out []*customer
	for _, c := range e.customers {
		if f.match(c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *customer) int {
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.id, b.id))
	})
	return out, true
}

// searchIDs is POST /customers/advanced_search_ids: the ids of the
// matching customers, at most maxSearchIDs, and the page size the SDKs
// fetch them by.
func (e *Emulator) searchIDs(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	found, ok := e.search(w, r)
	if !ok {
		return
	}
	found = found[:min(len(found), maxSearchIDs)]
	writeXML(w, r, http.StatusOK, func(x *xmlWriter) {
		x.open("search-results", "")
		x.element("page-size", ` type="integer"`, strconv.Itoa(searchPageSize))
		x.array("ids", len(found), func(i int) { x.element("item", "", found[i].id) })
		x.close("search-results")
	})
}

// searchCustomers is POST /customers/advanced_search: the customers of
// one page, named by ids with the search's other criteria.
func (e *Emulator) searchCustomers(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	found, ok := e.search(w, r)
	if !ok {
		return
	}
	// A collection, not an array: the SDKs read its <customer> children.
	writeXML(w, r, http.StatusOK, func(x *xmlWriter) {
		x.open("customers", ` type="collection"`)
		x.element("current-page-number", ` type="integer"`, "1")
		x.element("page-size", ` type="integer"`, strconv.Itoa(searchPageSize))
		x.element("total-items", ` type="integer"`, strconv.Itoa(len(found)))
		for _, c := range found {
			x.customer(c)
		}
		x.close("customers")
	})
}

// sandboxSeed is POST /_sandbox/seed: it creates the numbered customers a
// seed.Request describes, saved in one transaction. Their creation times
// are a second apart, the last one now, as a history of sign-ups would be.
// Braintree customers have no metadata, so a seed cannot carry any.
func (e *Emulator) sandboxSeed(w http.ResponseWriter, r *http.Request) {
	q, ok := seed.Decode(w, r)
	if !ok {
		return
	}
	if q.ExternalIDPrefix != "" || len(q.Metadata) > 0 {
		seed.Refuse(w, http.StatusUnprocessableEntity,
			"external_id_prefix, metadata: Braintree customers have no metadata; an import matches them by email")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := q.Customers(len(e.customers))
	last := now()
	ids := make([]string, len(cs))
	var objs []state.Object
	for i, s := range cs {
		t := last.Add(-time.Duration(len(cs)-1-i) * time.Second)
		c := &customer{id: e.newCustomerID(), firstName: s.GivenName, lastName: s.FamilyName, email: s.Email, createdAt: t, updatedAt: t}
		e.customers[c.id] = c
		ids[i] = c.id
		if e.state != nil {
			objs = append(objs, state.Object{ID: c.id, Value: record(c)})
		}
	}
	if err := e.state.PutAll(kindCustomer, objs); err != nil {
		for _, id := range ids {
			delete(e.customers, id)
		}
		seed.Unsaved(w, err)
		return
	}
	seed.Reply(w, cs, ids)
}
