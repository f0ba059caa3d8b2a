package api

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paysync/paysync"
)

// Flexprice's paging (types.QueryFilter): limit 1..1000, 50 when absent or
// 0; newest first unless order is asc.
const (
	flexpriceLimit    = 50
	flexpriceLimitMax = 1000
	// flexpriceIDsMax bounds the id lists of a filter: each id is one
	// store lookup. The peer sets no bound; its limit caps what one page holds.
	flexpriceIDsMax = 1000
	// storePage is the page size paysync's store serves at most.
	storePage = 100
)

// Reasons of the filter's validation.
const (
	reasonNotSupported = "not_supported"
	reasonTooMany      = "too_many_values"
)

// flexpriceFilter is Flexprice's types.CustomerFilter as paysync serves
// it. The store pages customers by creation only, so the filters other
// than ids run in this process; "filters" (the generic condition DSL) and
// sorting by other fields are refused rather than ignored.
type flexpriceFilter struct {
	Limit  int
	Offset int
	Desc   bool

	CustomerIDs []string
	ExternalIDs []string
	ExternalID  string
	Email       string
	Metadata    map[string]string
	Start, End  *time.Time
	// Nothing: status archived or deleted, which paysync never keeps.
	Nothing bool
}

// flexpriceFilterInput is a filter as read, before validation.
type flexpriceFilterInput struct {
	limit, offset                                           opt[int]
	order, status, sortField, externalID, email, start, end opt[string]
	customerIDs, externalIDs                                []string
	metadata                                                map[string]string
}

// parseFlexpriceFilterBody reads the JSON filter of POST /customers/search.
func parseFlexpriceFilterBody(body []byte) (*flexpriceFilter, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	v := paysync.Validation{}
	f := newFields(obj, v, nil)
	in := flexpriceFilterInput{
		limit:       f.integer("limit"),
		offset:      f.integer("offset"),
		order:       f.str("order"),
		status:      f.str("status"),
		externalID:  f.str("external_id"),
		email:       f.str("email"),
		start:       f.str("start_time"),
		end:         f.str("end_time"),
		customerIDs: f.strs("customer_ids").V,
		externalIDs: f.strs("external_ids").V,
		metadata:    readStringMap(f, "metadata", v).V,
	}
	// In the body, sort is a list of {field, direction} (types.SortCondition).
	for i, raw := range f.array("sort").V {
		obj, ok := asObject(raw)
		if !ok {
			v.Add("sort", reasonType)
			continue
		}
		sf := newFields(obj, v, func(k string) string { return "sort[" + strconv.Itoa(i) + "]." + k })
		in.sortField = sf.str("field")
		if dir := sf.str("direction"); dir.given() {
			in.order = dir
		}
	}
	if conds := f.array("filters"); len(conds.V) > 0 {
		v.Add("filters", reasonNotSupported)
	}
	return in.filter(v)
}

// parseFlexpriceQuery reads the filter of GET /customers from the query
// string, as gin's form binding does (lists as repeated keys).
func parseFlexpriceQuery(r *http.Request) (*flexpriceFilter, error) {
	q := r.URL.Query()
	v := paysync.Validation{}
	str := func(key string) opt[string] {
		if !q.Has(key) {
			return opt[string]{}
		}
		return opt[string]{Set: true, V: q.Get(key)}
	}
	num := func(key string) opt[int] {
		if !q.Has(key) || q.Get(key) == "" {
			return opt[int]{}
		}
		n, err := strconv.Atoi(q.Get(key))
		if err != nil {
			v.Add(key, reasonType)
			return opt[int]{}
		}
		return opt[int]{Set: true, V: n}
	}
	in := flexpriceFilterInput{
		limit:       num("limit"),
		offset:      num("offset"),
		order:       str("order"),
		status:      str("status"),
		sortField:   str("sort"),
		externalID:  str("external_id"),
		email:       str("email"),
		start:       str("start_time"),
		end:         str("end_time"),
		customerIDs: q["customer_ids"],
		externalIDs: q["external_ids"],
	}
	return in.filter(v)
}

// filter validates the input as types.CustomerFilter.Validate does and
// applies its defaults.
func (in flexpriceFilterInput) filter(v paysync.Validation) (*flexpriceFilter, error) {
	f := &flexpriceFilter{Limit: flexpriceLimit, Desc: true,
		CustomerIDs: in.customerIDs, ExternalIDs: in.externalIDs,
		ExternalID: in.externalID.V, Email: strings.TrimSpace(in.email.V), Metadata: in.metadata}
	if n := in.limit.V; n != 0 {
		if n < 1 || n > flexpriceLimitMax {
			v.Add("limit", reasonOutOfRange)
		}
		f.Limit = n
	}
	if f.Offset = in.offset.V; f.Offset < 0 {
		v.Add("offset", reasonOutOfRange)
	}
	switch in.order.V {
	case "", "desc":
	case "asc":
		f.Desc = false
	default:
		v.Add("order", reasonInvalidEnum)
	}
	switch in.sortField.V {
	case "", "created_at":
	default:
		v.Add("sort", reasonNotSupported)
	}
	switch in.status.V {
	case "", "published":
	case "archived", "deleted":
		f.Nothing = true
	default:
		v.Add("status", reasonInvalidEnum)
	}
	if f.Email != "" && !emailPattern.MatchString(f.Email) {
		v.Add("email", reasonEmail)
	}
	f.Start = parseFilterTime(v, "start_time", in.start.V)
	f.End = parseFilterTime(v, "end_time", in.end.V)
	if f.Start != nil && f.End != nil && f.End.Before(*f.Start) {
		v.Add("end_time", reasonInvalid)
	}
	if len(f.CustomerIDs) > flexpriceIDsMax {
		v.Add("customer_ids", reasonTooMany)
	}
	if len(f.ExternalIDs) > flexpriceIDsMax {
		v.Add("external_ids", reasonTooMany)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

func parseFilterTime(v paysync.Validation, field, s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.Add(field, reasonInvalid)
		return nil
	}
	return &t
}

// byIDs reports whether the filter names its customers by id.
func (f *flexpriceFilter) byIDs() bool {
	return len(f.CustomerIDs) > 0 || len(f.ExternalIDs) > 0 || f.ExternalID != ""
}

// scans reports whether the filter needs every customer read: the store
// filters on nothing but the organization.
func (f *flexpriceFilter) scans() bool {
	return f.Email != "" || len(f.Metadata) > 0 || f.Start != nil || f.End != nil
}

// match applies every condition of the filter to one customer.
func (f *flexpriceFilter) match(c *paysync.Customer) bool {
	switch {
	case len(f.CustomerIDs) > 0 && !slices.Contains(f.CustomerIDs, c.ID),
		len(f.ExternalIDs) > 0 && !slices.Contains(f.ExternalIDs, c.ExternalID),
		f.ExternalID != "" && c.ExternalID != f.ExternalID,
		f.Email != "" && !strings.EqualFold(c.Email, f.Email),
		f.Start != nil && c.CreatedAt.Before(*f.Start),
		f.End != nil && c.CreatedAt.After(*f.End):
		return false
	}
	for k, want := range f.Metadata {
		if got, ok := c.MetadataValue(k); !ok || got != want {
			return false
		}
	}
	return true
}

// run answers one page of the filter and the count of all matches.
func (f *flexpriceFilter) run(ctx context.Context, store paysync.Store, orgID string) ([]*paysync.Customer, int, error) {
	switch {
	case f.Nothing:
		return nil, 0, nil
	case f.byIDs():
		all, err := f.lookup(ctx, store, orgID)
		if err != nil {
			return nil, 0, err
		}
		return f.page(all), len(all), nil
	case f.scans():
		all, err := f.scan(ctx, store, orgID)
		if err != nil {
			return nil, 0, err
		}
		return f.page(all), len(all), nil
	}
	return f.slice(ctx, store, orgID)
}

// lookup finds the customers the filter names, one store read per id, and
// keeps those matching every other condition.
func (f *flexpriceFilter) lookup(ctx context.Context, store paysync.Store, orgID string) ([]*paysync.Customer, error) {
	var keys []paysync.CustomerKey
	switch {
	case f.ExternalID != "":
		keys = []paysync.CustomerKey{{ExternalID: f.ExternalID}}
	case len(f.CustomerIDs) > 0:
		for _, id := range f.CustomerIDs {
			keys = append(keys, paysync.CustomerKey{ID: id})
		}
	default:
		for _, id := range f.ExternalIDs {
			keys = append(keys, paysync.CustomerKey{ExternalID: id})
		}
	}
	seen := make(map[string]bool)
	var out []*paysync.Customer
	for _, k := range keys {
		if k.ID == "" && k.ExternalID == "" {
			continue // "" names no customer; the store would refuse the key
		}
		c, err := store.Customer(ctx, orgID, k)
		if paysync.ErrorCode(err) == paysync.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !seen[c.ID] && f.match(c) {
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *paysync.Customer) int { return cmp.Compare(a.SequentialID, b.SequentialID) })
	return out, nil
}

// scan reads the organization's customers page by page and keeps the
// matches. An email filter first asks the store's email index whether any
// customer has it, so a miss costs one query.
func (f *flexpriceFilter) scan(ctx context.Context, store paysync.Store, orgID string) ([]*paysync.Customer, error) {
	if f.Email != "" {
		_, err := store.Customer(ctx, orgID, paysync.CustomerKey{Email: f.Email})
		if paysync.ErrorCode(err) == paysync.ENOTFOUND {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	seen := make(map[string]bool)
	var out []*paysync.Customer
	for page := 1; ; page++ {
		cs, _, err := store.Customers(ctx, orgID, paysync.CustomerFilter{Page: page, PerPage: storePage})
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			// A delete between two pages shifts one customer onto a page
			// already read; the set keeps it from counting twice.
			if !seen[c.ID] && f.match(c) {
				seen[c.ID] = true
				out = append(out, c)
			}
		}
		if len(cs) < storePage {
			return out, nil
		}
	}
}

// page cuts the requested page out of all matches, oldest first.
func (f *flexpriceFilter) page(all []*paysync.Customer) []*paysync.Customer {
	if f.Desc {
		all = slices.Clone(all)
		slices.Reverse(all)
	}
	start := min(f.Offset, len(all))
	end := min(start+f.Limit, len(all))
	return all[start:end]
}

// slice answers an unfiltered page with only the store reads it needs:
// the store pages oldest first, so a newest-first page is the mirrored
// range, read after the count.
func (f *flexpriceFilter) slice(ctx context.Context, store paysync.Store, orgID string) ([]*paysync.Customer, int, error) {
	if !f.Desc {
		return readRange(ctx, store, orgID, f.Offset, f.Offset+f.Limit)
	}
	_, total, err := store.Customers(ctx, orgID, paysync.CustomerFilter{Page: 1, PerPage: 1})
	if err != nil {
		return nil, 0, err
	}
	end := total - f.Offset
	if end <= 0 {
		return nil, total, nil
	}
	cs, _, err := readRange(ctx, store, orgID, max(end-f.Limit, 0), end)
	if err != nil {
		return nil, 0, err
	}
	slices.Reverse(cs)
	return cs, total, nil
}

// readRange reads the customers at positions [start, end) of the
// organization's oldest-first listing, and the organization's total.
func readRange(ctx context.Context, store paysync.Store, orgID string, start, end int) ([]*paysync.Customer, int, error) {
	var out []*paysync.Customer
	total := 0
	for page := start/storePage + 1; ; page++ {
		cs, t, err := store.Customers(ctx, orgID, paysync.CustomerFilter{Page: page, PerPage: storePage})
		if err != nil {
			return nil, 0, err
		}
		total = t
		base := (page - 1) * storePage
		for i, c := range cs {
			if pos := base + i; pos >= start && pos < end {
				out = append(out, c)
			}
		}
		if len(cs) < storePage || base+storePage >= end {
			return out, total, nil
		}
	}
}
