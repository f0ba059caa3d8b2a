package store

import (
	"strings"
	"unicode/utf8"
)

// storable reports whether every s can be a text value of either
// database: valid UTF-8 without NUL (PostgreSQL refuses both with SQLSTATE
// 22021). A lookup by a value that is not storable finds nothing, as no
// stored row can hold it, rather than failing the query.
func storable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// storableOnly drops the values that are not storable; ok is false when
// ids named some and none is left.
func storableOnly(ids []string) (kept []string, ok bool) {
	if storable(ids...) {
		return ids, true
	}
	for _, id := range ids {
		if storable(id) {
			kept = append(kept, id)
		}
	}
	return kept, len(kept) > 0
}
