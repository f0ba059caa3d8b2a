package api

import (
	"context"
	"errors"
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
	// flexpriceIDsMax bounds the id lists of a filter: each id is one query
	// parameter. The peer sets no bound; its limit caps what one page holds.
	flexpriceIDsMax = 1000
)

// Reasons of the filter's validation.
const (
	reasonNotSupported = "not_supported"
	reasonTooMany      = "too_many_values"
)

// flexpriceFilter is Flexprice's types.CustomerFilter as paysync serves
// it: every condition runs in the store (paysync.CustomerFilter); "filters"
// (the generic condition DSL) and sorting by other fields are refused
// rather than ignored.
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
		if errors.Is(err, strconv.ErrRange) {
			err = nil // clamped: an offset past any end, a limit out of range
		}
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

// run answers one page of the filter and the count of all matches, in one
// store read (two when the page cannot tell the count).
func (f *flexpriceFilter) run(ctx context.Context, store paysync.Store, orgID string) ([]*paysync.Customer, int, error) {
	sf, ok := f.storeFilter()
	if !ok {
		return nil, 0, nil
	}
	return store.Customers(ctx, orgID, sf)
}

// storeFilter is the filter as the store runs it; ok is false when no
// customer can match. The id conditions combine: external_id must be one
// of external_ids, when both are given.
func (f *flexpriceFilter) storeFilter() (sf paysync.CustomerFilter, ok bool) {
	if f.Nothing {
		return sf, false
	}
	ids, ok := namedIDs(f.CustomerIDs)
	if !ok {
		return sf, false
	}
	externalIDs, ok := namedIDs(f.ExternalIDs)
	if !ok {
		return sf, false
	}
	if f.ExternalID != "" {
		if externalIDs != nil && !slices.Contains(externalIDs, f.ExternalID) {
			return sf, false
		}
		externalIDs = []string{f.ExternalID}
	}
	return paysync.CustomerFilter{
		Offset: f.Offset, Limit: f.Limit, Desc: f.Desc,
		IDs: ids, ExternalIDs: externalIDs, Email: f.Email, Metadata: f.Metadata,
		CreatedFrom: f.Start, CreatedTo: f.End,
	}, true
}

// namedIDs is a list of ids without "", which names no customer; ok is
// false when the list is given but names none.
func namedIDs(ids []string) (named []string, ok bool) {
	if len(ids) == 0 {
		return nil, true
	}
	named = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "" })
	return named, len(named) > 0
}
