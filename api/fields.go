package api

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/paysync/paysync"
)

// opt is one request field: absent (Set false), null (Null), or a value.
// Dialects that update key by key need all three.
type opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

// given reports whether the field holds a value (present and not null).
func (o opt[T]) given() bool { return o.Set && !o.Null }

// Reasons shared by the dialects' validations.
const (
	// reasonType is paysync's code for a value of the wrong JSON type:
	// Rails would coerce it or fail with a message, not a code.
	reasonType        = "invalid_type"
	reasonOutOfRange  = "value_is_out_of_range"
	reasonMandatory   = "value_is_mandatory"
	reasonInvalid     = "value_is_invalid"
	reasonTooLong     = "value_is_too_long"
	reasonDuplicate   = "value_already_exist"
	reasonEmail       = "invalid_email_format"
	reasonCountry     = "not_a_valid_country_code"
	reasonLocale      = "not_a_valid_language_code"
	reasonTimezone    = "invalid_timezone"
	reasonURL         = "url_is_invalid"
	reasonInvalidEnum = "invalid_value"
)

// fields reads one JSON object key by key. A value of the wrong type is
// recorded in v under the name the dialect reports for that key, and then
// reads as absent so that it causes no second error.
type fields struct {
	obj  map[string]json.RawMessage
	v    paysync.Validation
	name func(key string) string
}

func newFields(obj map[string]json.RawMessage, v paysync.Validation, name func(string) string) *fields {
	if name == nil {
		name = func(k string) string { return k }
	}
	return &fields{obj: obj, v: v, name: name}
}

func (f *fields) raw(key string) (json.RawMessage, bool) {
	raw, ok := f.obj[key]
	return raw, ok
}

func (f *fields) typeError(key string) { f.v.Add(f.name(key), reasonType) }

// str reads a string. NUL bytes are dropped: PostgreSQL cannot store them
// (Lago strips them too).
func (f *fields) str(key string) opt[string] {
	raw, ok := f.raw(key)
	if !ok {
		return opt[string]{}
	}
	if isNull(raw) {
		return opt[string]{Set: true, Null: true}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		f.typeError(key)
		return opt[string]{}
	}
	return opt[string]{Set: true, V: strings.ReplaceAll(s, "\x00", "")}
}

// integer reads a whole number within 32 bits. A string of digits is
// accepted as Rails casts it ("30" is 30); Lago's own examples send them.
func (f *fields) integer(key string) opt[int] {
	raw, ok := f.raw(key)
	if !ok {
		return opt[int]{}
	}
	if isNull(raw) {
		return opt[int]{Set: true, Null: true}
	}
	text := string(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		text = strings.TrimSpace(s)
	} else if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		f.typeError(key)
		return opt[int]{}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			f.v.Add(f.name(key), reasonOutOfRange)
		} else {
			f.typeError(key)
		}
		return opt[int]{}
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		f.v.Add(f.name(key), reasonOutOfRange)
		return opt[int]{}
	}
	return opt[int]{Set: true, V: int(n)}
}

// boolean reads true or false; the strings "true" and "false" are
// accepted as Rails casts them, anything else ("yes", 1) is refused.
func (f *fields) boolean(key string) opt[bool] {
	raw, ok := f.raw(key)
	if !ok {
		return opt[bool]{}
	}
	switch strings.Trim(string(raw), `"`) {
	case "null":
		if isNull(raw) {
			return opt[bool]{Set: true, Null: true}
		}
	case "true":
		return opt[bool]{Set: true, V: true}
	case "false":
		return opt[bool]{Set: true, V: false}
	}
	f.typeError(key)
	return opt[bool]{}
}

// strs reads an array of strings.
func (f *fields) strs(key string) opt[[]string] {
	raw, ok := f.raw(key)
	if !ok {
		return opt[[]string]{}
	}
	if isNull(raw) {
		return opt[[]string]{Set: true, Null: true}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		f.typeError(key)
		return opt[[]string]{}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if isNull(it) || json.Unmarshal(it, &s) != nil {
			f.typeError(key)
			return opt[[]string]{}
		}
		out = append(out, strings.ReplaceAll(s, "\x00", ""))
	}
	return opt[[]string]{Set: true, V: out}
}

// object reads a nested object, whose own type errors go to the same
// Validation under names from name.
func (f *fields) object(key string, name func(string) string) (*fields, opt[struct{}]) {
	raw, ok := f.raw(key)
	if !ok {
		return nil, opt[struct{}]{}
	}
	if isNull(raw) {
		return nil, opt[struct{}]{Set: true, Null: true}
	}
	obj, ok := asObject(raw)
	if !ok {
		f.typeError(key)
		return nil, opt[struct{}]{}
	}
	return newFields(obj, f.v, name), opt[struct{}]{Set: true}
}

// array reads an array of raw values.
func (f *fields) array(key string) opt[[]json.RawMessage] {
	raw, ok := f.raw(key)
	if !ok {
		return opt[[]json.RawMessage]{}
	}
	if isNull(raw) {
		return opt[[]json.RawMessage]{Set: true, Null: true}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		f.typeError(key)
		return opt[[]json.RawMessage]{}
	}
	return opt[[]json.RawMessage]{Set: true, V: items}
}

// asObject decodes raw when it is a JSON object (not null, not an array).
func asObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return nil, false
	}
	return obj, true
}
