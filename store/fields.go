package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// field maps one column to a field of R: value is the query argument
// written, dest the scan destination read. Keeping both in one table keeps
// INSERT, UPDATE and SELECT column orders in step.
type field[R any] struct {
	name  string
	value func(*R) any
	dest  func(*R) any
}

// plain is a NOT NULL column holding a Go value as is.
func plain[R, T any](name string, f func(*R) *T) field[R] {
	return field[R]{name,
		func(r *R) any { return *f(r) },
		func(r *R) any { return nullable[T]{f(r)} },
	}
}

// nullable scans NULL as T's zero value (the columns of a LEFT JOINed link
// are NULL when there is none) and converts what drivers return, such as
// SQLite's integer booleans, as database/sql does.
type nullable[T any] struct{ p *T }

func (n nullable[T]) Scan(v any) error {
	var s sql.Null[T]
	if err := s.Scan(v); err != nil {
		return err
	}
	*n.p = s.V
	return nil
}

// stringKind is a NOT NULL column of a named string type (SyncState,
// ProviderKind), passed to drivers as a plain string.
func stringKind[R any, T ~string](name string, f func(*R) *T) field[R] {
	return field[R]{name,
		func(r *R) any { return string(*f(r)) },
		func(r *R) any { return nullable[T]{f(r)} },
	}
}

// optInt is a nullable integer column for a *int.
func optInt[R any](name string, f func(*R) **int) field[R] {
	return field[R]{name,
		func(r *R) any {
			if p := *f(r); p != nil {
				return int64(*p)
			}
			return nil
		},
		func(r *R) any { return optIntDest{f(r)} },
	}
}

type optIntDest struct{ p **int }

func (d optIntDest) Scan(v any) error {
	var n sql.NullInt64
	if err := n.Scan(v); err != nil {
		return err
	}
	*d.p = nil
	if n.Valid {
		i := int(n.Int64)
		*d.p = &i
	}
	return nil
}

// optFloat is a nullable floating point column for a *float64.
func optFloat[R any](name string, f func(*R) **float64) field[R] {
	return field[R]{name,
		func(r *R) any {
			if p := *f(r); p != nil {
				return *p
			}
			return nil
		},
		func(r *R) any { return optFloatDest{f(r)} },
	}
}

type optFloatDest struct{ p **float64 }

func (d optFloatDest) Scan(v any) error {
	var n sql.NullFloat64
	if err := n.Scan(v); err != nil {
		return err
	}
	*d.p = nil
	if n.Valid {
		x := n.Float64
		*d.p = &x
	}
	return nil
}

// timestamp is a timestamp column; the zero time is stored as NULL.
func timestamp[R any](name string, f func(*R) *time.Time) field[R] {
	return field[R]{name,
		func(r *R) any {
			if t := *f(r); !t.IsZero() {
				return t
			}
			return nil
		},
		func(r *R) any { return timeDest{f(r)} },
	}
}

type timeDest struct{ p *time.Time }

func (d timeDest) Scan(v any) error {
	var n sql.NullTime
	if err := n.Scan(v); err != nil {
		return err
	}
	*d.p = time.Time{}
	if n.Valid {
		*d.p = normTime(n.Time)
	}
	return nil
}

// optTime is a nullable timestamp column for a *time.Time.
func optTime[R any](name string, f func(*R) **time.Time) field[R] {
	return field[R]{name,
		func(r *R) any {
			if p := *f(r); p != nil {
				return *p
			}
			return nil
		},
		func(r *R) any { return optTimeDest{f(r)} },
	}
}

type optTimeDest struct{ p **time.Time }

func (d optTimeDest) Scan(v any) error {
	var n sql.NullTime
	if err := n.Scan(v); err != nil {
		return err
	}
	*d.p = nil
	if n.Valid {
		t := normTime(n.Time)
		*d.p = &t
	}
	return nil
}

// jsonText is a nullable text column holding a JSON encoding of T, written
// through to and from the stored form S. NULL stands for T's zero value.
// Text rather than jsonb: the value reads back byte for byte, and nothing
// queries inside it.
func jsonText[R, T, S any](name string, f func(*R) *T, isZero func(T) bool, to func(T) S, from func(S) T) field[R] {
	return field[R]{name,
		func(r *R) any {
			v := *f(r)
			if isZero(v) {
				return nil
			}
			b, err := json.Marshal(to(v))
			if err != nil {
				// Only unsupported types fail to encode; the stored forms have none.
				panic(fmt.Sprintf("store: encode %s: %v", name, err))
			}
			return string(b)
		},
		func(r *R) any {
			return scanFunc(func(v any) error {
				var zero T
				*f(r) = zero
				b, ok, err := textBytes(v)
				if err != nil || !ok {
					return err
				}
				var s S
				if err := json.Unmarshal(b, &s); err != nil {
					return fmt.Errorf("decode %s: %w", name, err)
				}
				*f(r) = from(s)
				return nil
			})
		},
	}
}

// rawJSON is a nullable text column holding a JSON document as given.
func rawJSON[R any](name string, f func(*R) *[]byte) field[R] {
	return field[R]{name,
		func(r *R) any {
			if b := *f(r); len(b) > 0 {
				return string(b)
			}
			return nil
		},
		func(r *R) any {
			return scanFunc(func(v any) error {
				b, ok, err := textBytes(v)
				*f(r) = nil
				if ok {
					*f(r) = append([]byte(nil), b...)
				}
				return err
			})
		},
	}
}

type scanFunc func(v any) error

func (f scanFunc) Scan(v any) error { return f(v) }

// textBytes reads a text column as drivers return it; ok is false for NULL.
func textBytes(v any) (b []byte, ok bool, err error) {
	switch v := v.(type) {
	case nil:
		return nil, false, nil
	case string:
		return []byte(v), true, nil
	case []byte:
		return v, true, nil
	default:
		return nil, false, fmt.Errorf("unexpected %T for a text column", v)
	}
}

func names[R any](fields []field[R]) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.name
	}
	return out
}

func values[R any](fields []field[R], r *R) []any {
	out := make([]any, len(fields))
	for i, f := range fields {
		out[i] = f.value(r)
	}
	return out
}

func dests[R any](fields []field[R], r *R) []any {
	out := make([]any, len(fields))
	for i, f := range fields {
		out[i] = f.dest(r)
	}
	return out
}

// columnList renders "a.c1, a.c2, ...".
func columnList(alias string, cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(alias)
		b.WriteByte('.')
		b.WriteString(c)
	}
	return b.String()
}

// placeholders renders "$from, $from+1, ..." for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// sameValues reports whether two rows of query arguments store the same data.
func sameValues(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if ta, ok := a[i].(time.Time); ok {
			tb, ok := b[i].(time.Time)
			if !ok || !ta.Equal(tb) {
				return false
			}
			continue
		}
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// blob is a NOT NULL binary column; empty and nil both read back as nil.
func blob[R any](name string, f func(*R) *[]byte) field[R] {
	return field[R]{name,
		func(r *R) any {
			if b := *f(r); b != nil {
				return b
			}
			return []byte{} // NOT NULL: drivers send a nil slice as NULL
		},
		func(r *R) any {
			return scanFunc(func(v any) error {
				b, _, err := textBytes(v)
				*f(r) = nil
				if len(b) > 0 {
					*f(r) = append([]byte(nil), b...)
				}
				return err
			})
		},
	}
}
