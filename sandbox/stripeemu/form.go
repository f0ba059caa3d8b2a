package stripeemu

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Stripe's form encoding nests with brackets: address[line1]=x,
// metadata[k]=v, preferred_locales[0]=fr (stripe-go and the Node SDK) or
// preferred_locales[]=fr. These helpers read that encoding from url.Values.

// top returns the first segment of a form key: "address" for "address[line1]".
func top(key string) string {
	if i := strings.IndexByte(key, '['); i >= 0 {
		return key[:i]
	}
	return key
}

// sub returns the values nested under name, with name's brackets removed:
// sub(f, "shipping") turns shipping[address][line1] into address[line1].
func sub(f url.Values, name string) url.Values {
	out := url.Values{}
	prefix := name + "["
	for k, v := range f {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		child, after, ok := strings.Cut(rest, "]")
		if !ok {
			continue
		}
		out[child+after] = v
	}
	return out
}

// has reports whether the form mentions name, alone or nested.
func has(f url.Values, name string) bool {
	for k := range f {
		if top(k) == name {
			return true
		}
	}
	return false
}

// cleared reports whether name is sent as an empty string, Stripe's way of
// unsetting a field on update.
func cleared(f url.Values, name string) bool {
	v, ok := f[name]
	return ok && len(v) > 0 && v[0] == ""
}

// str returns the value of a scalar parameter and whether it was sent.
func str(f url.Values, name string) (string, bool) {
	v, ok := f[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// list returns an array parameter in index order; name[] entries keep the
// order they were sent in.
func list(f url.Values, name string) []string {
	type item struct {
		i int
		v string
	}
	var items []item
	next := 1 << 30 // name[] entries sort after indexed ones
	for k, vs := range sub(f, name) {
		if k == "" {
			for _, v := range vs {
				items = append(items, item{next, v})
				next++
			}
			continue
		}
		i, err := strconv.Atoi(k)
		if err != nil || len(vs) == 0 {
			continue
		}
		items = append(items, item{i, vs[0]})
	}
	sort.SliceStable(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out
}

// unknown returns the first parameter of f (sorted, for stable errors) whose
// top segment is not in allowed, prefixed as Stripe names it, or "".
func unknown(f url.Values, prefix string, allowed ...string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t := top(k)
		ok := false
		for _, a := range allowed {
			if t == a {
				ok = true
				break
			}
		}
		if !ok {
			return nest(prefix, t)
		}
	}
	return ""
}

// nest names a nested parameter: nest("address", "line1") is address[line1].
func nest(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "[" + name + "]"
}
