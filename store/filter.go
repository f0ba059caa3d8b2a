package store

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paysync/paysync"
)

const (
	// maxFilterIDs bounds CustomerFilter.IDs and ExternalIDs together: each
	// id is one query parameter, and SQLite takes at most 32766 of them.
	maxFilterIDs = 10000
	// maxLimit caps CustomerFilter.Limit.
	maxLimit = 1000
)

// conditions is the WHERE clause of a customer listing, its parameters
// numbered from $1 in args.
type conditions struct {
	db    *DB
	where []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (w *conditions) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *conditions) add(cond string) { w.where = append(w.where, cond) }

func (w *conditions) sql() string { return strings.Join(w.where, " AND ") }

// in adds "column IN (...)" for a non-empty list.
func (w *conditions) in(column string, values []string) {
	if len(values) == 0 {
		return
	}
	ps := make([]string, len(values))
	for i, v := range values {
		ps[i] = w.arg(v)
	}
	w.add(column + " IN (" + strings.Join(ps, ", ") + ")")
}

// customerConditions renders f's conditions on customers c, scoped to
// orgID. none is true when f is one no customer can meet.
func (db *DB) customerConditions(orgID string, f paysync.CustomerFilter) (w *conditions, none bool, err error) {
	if len(f.IDs)+len(f.ExternalIDs) > maxFilterIDs {
		return nil, false, paysync.Errorf(paysync.EINVALID, "a customer filter names at most %d ids", maxFilterIDs)
	}
	// No stored customer holds text neither database can store.
	if !storable(f.Email) {
		return nil, true, nil
	}
	var ok bool
	if f.IDs, ok = storableOnly(f.IDs); !ok {
		return nil, true, nil
	}
	if f.ExternalIDs, ok = storableOnly(f.ExternalIDs); !ok {
		return nil, true, nil
	}
	w = &conditions{db: db}
	w.add("c.organization_id = " + w.arg(orgID))
	w.in("c.id", f.IDs)
	w.in("c.external_id", f.ExternalIDs)
	if f.Email != "" {
		// The form of Customer's email lookup, served by the same index.
		w.add("lower(c.email) = lower(" + w.arg(f.Email) + ")")
	}
	for _, key := range slices.Sorted(maps.Keys(f.Metadata)) {
		if !w.metadata(key, f.Metadata[key]) {
			return nil, true, nil
		}
	}
	// created_at holds microseconds: a bound with a finer fraction becomes
	// the microsecond it lets through first (from) or last (to), so that the
	// comparison is the same whether or not a driver truncates it.
	if t := f.CreatedFrom; t != nil {
		from := t.UTC().Truncate(time.Microsecond)
		if from.Before(*t) {
			from = from.Add(time.Microsecond)
		}
		w.add("c.created_at >= " + w.arg(from))
	}
	if t := f.CreatedTo; t != nil {
		w.add("c.created_at <= " + w.arg(t.UTC().Truncate(time.Microsecond)))
	}
	return w, false, nil
}

// metadata adds the condition that the first metadata item with key has
// value, reporting false when no stored customer can have the pair.
//
// The metadata column is text the store alone writes: json.Marshal of
// []storedMetadata, so every item is {"id":..,"key":K,"value":V,...} with
// K and V encoded by json.Marshal, no whitespace, key right before value.
// The condition matches that text rather than parsing it with the
// dialects' JSON functions, which differ between PostgreSQL and SQLite and
// which, on PostgreSQL, fail on a "\u0000" in any stored item (jsonb and
// ->> cannot hold it), breaking every listing of the organization.
//
// Let P be `"key":K,"value":` and Q be P followed by V, K and V encoded as
// the column encodes them. P occurs in the text only where an item's key
// is K: its quote before `key` cannot be inside a string, since the quote
// after `key` is unescaped and would then close that string followed by a
// colon, which only a member name is, and no member name ends in `key`.
// So the first occurrence of P is the first item with key K, and that
// item's value is V exactly when Q occurs at the same place: V's encoding
// is a whole JSON string, so a stored value it prefixes is V itself.
func (w *conditions) metadata(key, value string) bool {
	// Stored text is valid UTF-8: json.Marshal replaces invalid bytes, so a
	// key or value with them was never stored as is and matches nothing.
	if !utf8.ValidString(key) || !utf8.ValidString(value) {
		return false
	}
	p := `"key":` + jsonString(key) + `,"value":`
	q := p + jsonString(value)
	find := func(s string) string { return w.db.position("c.metadata", w.arg(s)) }
	w.add(find(q) + " > 0 AND " + find(q) + " = " + find(p))
	return true
}

// jsonString encodes s as the metadata column does (json.Marshal, HTML
// characters escaped); s is valid UTF-8, which always encodes.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// position renders the 1-based position of the first occurrence of needle
// in haystack, 0 when there is none and NULL when haystack is: strpos on
// PostgreSQL, instr on SQLite (neither has the other). Both count
// characters, and compare bytes (PostgreSQL's default, deterministic
// collations included).
func (db *DB) position(haystack, needle string) string {
	if db.dialect == Postgres {
		return "strpos(" + haystack + ", " + needle + ")"
	}
	return "instr(" + haystack + ", " + needle + ")"
}
