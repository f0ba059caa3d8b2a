package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/store"
)

// listed runs f on orgID and returns the external ids listed, in order,
// and the total.
func listed(t *testing.T, db *store.DB, orgID string, f paysync.CustomerFilter) (string, int) {
	t.Helper()
	cs, total, err := db.Customers(context.Background(), orgID, f)
	if err != nil {
		t.Fatalf("%+v: %v", f, err)
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ExternalID
		if c.OrganizationID != orgID {
			t.Fatalf("%+v: listed %s of organization %s", f, c.ExternalID, c.OrganizationID)
		}
	}
	return fmt.Sprint(ids), total
}

// wantListed checks the external ids f lists, in order, and its total.
func wantListed(t *testing.T, db *store.DB, orgID string, f paysync.CustomerFilter, want string, wantTotal int) {
	t.Helper()
	got, total := listed(t, db, orgID, f)
	if got != want || total != wantTotal {
		t.Errorf("%+v: listed %s of %d, want %s of %d", f, got, total, want, wantTotal)
	}
}

// count is how many ids a listing as listed renders holds.
func count(ids string) int { return len(strings.Fields(strings.Trim(ids, "[]"))) }

// putAll stores one customer per external id in org, in order.
func putAll(t *testing.T, db *store.DB, org string, exts ...string) map[string]*paysync.Customer {
	t.Helper()
	out := make(map[string]*paysync.Customer, len(exts))
	for _, ext := range exts {
		out[ext], _ = put(t, db, &paysync.Customer{OrganizationID: org, ExternalID: ext})
	}
	return out
}

func TestCustomersFilterIDs(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		cs := putAll(t, db, "org1", "a", "b", "c", "d")
		other := putAll(t, db, "org2", "a", "x")
		a, b, c := cs["a"].ID, cs["b"].ID, cs["c"].ID
		tests := []struct {
			name  string
			f     paysync.CustomerFilter
			want  string
			total int
		}{
			{"ids", paysync.CustomerFilter{IDs: []string{c, a, other["x"].ID, other["a"].ID, "nope"}}, "[a c]", 2},
			{"external ids", paysync.CustomerFilter{ExternalIDs: []string{"d", "a", "x", "nobody"}}, "[a d]", 2},
			{"both", paysync.CustomerFilter{IDs: []string{a, b}, ExternalIDs: []string{"b", "c"}}, "[b]", 1},
			{"disjoint", paysync.CustomerFilter{IDs: []string{a}, ExternalIDs: []string{"b"}}, "[]", 0},
			{"repeated", paysync.CustomerFilter{ExternalIDs: []string{"a", "a", "b"}, IDs: []string{a, a, b}}, "[a b]", 2},
			{"newest first", paysync.CustomerFilter{ExternalIDs: []string{"a", "c", "b"}, Desc: true}, "[c b a]", 3},
			{"none named", paysync.CustomerFilter{ExternalIDs: []string{"nobody"}}, "[]", 0},
			{"empty lists filter nothing", paysync.CustomerFilter{IDs: []string{}, ExternalIDs: nil}, "[a b c d]", 4},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantListed(t, db, "org1", tt.f, tt.want, tt.total) })
		}

		// The bound is on both lists together; at the bound, the query runs.
		many := make([]string, 10000)
		for i := range many {
			many[i] = fmt.Sprintf("id-%05d", i)
		}
		many[9999] = "b"
		wantListed(t, db, "org1", paysync.CustomerFilter{ExternalIDs: many}, "[b]", 1)
		_, _, err := db.Customers(context.Background(), "org1", paysync.CustomerFilter{ExternalIDs: many, IDs: []string{a}})
		wantCode(t, err, paysync.EINVALID)
	})
}

func TestCustomersFilterEmail(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		for _, c := range [][2]string{
			{"upper", "Ann@Example.COM"}, {"lower", "ann@example.com"}, {"org", "ann@example.org"},
			{"prefix", "xann@example.com"}, {"suffix", "ann@example.com.evil"}, {"none", ""},
			{"underscore", "a_n@example.com"}, {"letter", "ain@example.com"}, {"percent", "a%n@example.com"},
		} {
			put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: c[0], Email: c[1]})
		}
		put(t, db, &paysync.Customer{OrganizationID: "org2", ExternalID: "elsewhere", Email: "ann@example.com"})
		byEmail := func(email string) paysync.CustomerFilter {
			return paysync.CustomerFilter{Email: email, Limit: 100}
		}
		sorted := func(f paysync.CustomerFilter) (string, int) {
			cs, total, err := db.Customers(context.Background(), "org1", f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ExternalID)
			}
			slices.Sort(ids)
			return fmt.Sprint(ids), total
		}
		for email, want := range map[string]string{
			"ANN@example.com":  "[lower upper]",
			"ann@example.com":  "[lower upper]",
			"ann@EXAMPLE.org":  "[org]",
			"nobody@acme.test": "[]",
			// Not LIKE: _ and % are characters like any other.
			"a_n@example.com": "[underscore]",
			"a%n@example.com": "[percent]",
			"A%N@EXAMPLE.COM": "[percent]",
		} {
			got, total := sorted(byEmail(email))
			if got != want || total != count(want) {
				t.Errorf("email %q: listed %s of %d, want %s", email, got, total, want)
			}
		}
		// No email filters nothing.
		if got, total := sorted(byEmail("")); total != 9 {
			t.Errorf("no email: listed %s of %d, want all 9", got, total)
		}
		// Paged and ordered as any listing.
		wantListed(t, db, "org1", paysync.CustomerFilter{Email: "ann@example.com", Desc: true, PerPage: 1}, "[lower]", 2)
	})
}

func TestCustomersFilterMetadata(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		md := func(pairs ...string) []paysync.Metadata {
			var out []paysync.Metadata
			for i := 0; i < len(pairs); i += 2 {
				out = append(out, paysync.Metadata{Key: pairs[i], Value: pairs[i+1]})
			}
			return out
		}
		const (
			odd      = "\"\\q\u2028\u0000<é>&\t😀\ufffd"
			oddKey   = `<a&b> "k"`
			injected = `"key":"plan","value":"pro"`
		)
		customers := []struct {
			ext      string
			metadata []paysync.Metadata
		}{
			{"m1", md("plan", "pro", "region", "eu")},
			{"m2", md("plan", "free", "plan", "pro")}, // the first item of a key counts
			{"m3", md("region", "pro", "plan", "pro ")},
			{"m4", md("note", injected)},
			{"m5", md(`plan","value":"pro`, "x")},
			{"m6", md(oddKey, odd, "", "", "empty", "")},
			{"m7", nil},
			{"m8", md("bad", "a\xff\xfeb")}, // stored as what it reads back as: a\ufffd\ufffdb
			{"m9", md("PLAN", "pro", "seats", "12")},
			{"m10", md("seats", "1", "plan", "pro")},
		}
		ids := map[string]string{}
		for _, c := range customers {
			got, _ := put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: c.ext, Metadata: c.metadata})
			ids[c.ext] = got.ID
		}
		put(t, db, &paysync.Customer{OrganizationID: "org2", ExternalID: "elsewhere", Metadata: md("plan", "pro")})

		for ext, id := range ids {
			ok, err := db.MetadataIsCanonical(ctx, "org1", id)
			if err != nil || !ok {
				t.Fatalf("%s: metadata column is not json.Marshal of what it reads back as (%v)", ext, err)
			}
		}
		m8, err := db.Customer(ctx, "org1", paysync.CustomerKey{ID: ids["m8"]})
		if err != nil || m8.Metadata[0].Value != "a\ufffd\ufffdb" {
			t.Fatalf("invalid UTF-8 reads back as %+v, %v", m8.Metadata, err)
		}

		tests := []struct {
			name     string
			metadata map[string]string
			want     string
		}{
			{"one pair", map[string]string{"plan": "pro"}, "[m1 m10]"},
			{"first of a repeated key", map[string]string{"plan": "free"}, "[m2]"},
			{"every pair", map[string]string{"plan": "pro", "region": "eu"}, "[m1]"},
			{"a pair missing", map[string]string{"plan": "pro", "region": "us"}, "[]"},
			{"value under another key", map[string]string{"region": "pro"}, "[m3]"},
			{"whole value", map[string]string{"plan": "pro "}, "[m3]"},
			{"value prefix is not the value", map[string]string{"plan": "pr"}, "[]"},
			{"key prefix is not the key", map[string]string{"pla": "pro"}, "[]"},
			{"structure inside a value", map[string]string{"note": injected}, "[m4]"},
			{"structure inside a key", map[string]string{`plan","value":"pro`: "x"}, "[m5]"},
			{"escapes, NUL, HTML and non-ASCII", map[string]string{oddKey: odd}, "[m6]"},
			{"empty key and value", map[string]string{"": ""}, "[m6]"},
			{"empty value", map[string]string{"empty": ""}, "[m6]"},
			{"empty value differs", map[string]string{"empty": "x"}, "[]"},
			{"as read back", map[string]string{"bad": "a\ufffd\ufffdb"}, "[m8]"},
			{"not UTF-8 matches nothing", map[string]string{"bad": "a\xff\xfeb"}, "[]"},
			{"keys are case-sensitive", map[string]string{"PLAN": "pro"}, "[m9]"},
			{"values are case-sensitive", map[string]string{"plan": "PRO"}, "[]"},
			{"a key nobody has", map[string]string{"missing": ""}, "[]"},
			{"pairs of several items", map[string]string{"seats": "12", "PLAN": "pro"}, "[m9]"},
			{"empty map", map[string]string{}, "[m1 m2 m3 m4 m5 m6 m7 m8 m9 m10]"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantListed(t, db, "org1", paysync.CustomerFilter{Metadata: tt.metadata, PerPage: 100}, tt.want, count(tt.want))
			})
		}
		// Paged, with the total of every match.
		wantListed(t, db, "org1", paysync.CustomerFilter{Metadata: map[string]string{"plan": "pro"}, Limit: 1, Offset: 1}, "[m10]", 2)
		wantListed(t, db, "org1", paysync.CustomerFilter{Metadata: map[string]string{"plan": "pro"}, Limit: 1, Desc: true}, "[m10]", 2)
	})
}

func TestCustomersFilterCreated(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2024, 3, 1, 12, 0, 0, 123000, time.UTC)
		t1 := t0.Add(time.Microsecond)
		t2 := t0.Add(time.Hour)
		t3 := t0.Add(48 * time.Hour)
		for _, c := range []struct {
			ext string
			at  time.Time
		}{{"c0", t0}, {"c1", t1}, {"c2", t2}, {"c3", t3}, {"early", t0.Add(-time.Minute)}} {
			got, _ := put(t, db, &paysync.Customer{OrganizationID: "org1", ExternalID: c.ext, CreatedAt: c.at})
			if !got.CreatedAt.Equal(c.at) {
				t.Fatalf("%s created at %s, want %s", c.ext, got.CreatedAt, c.at)
			}
		}
		put(t, db, &paysync.Customer{OrganizationID: "org2", ExternalID: "elsewhere", CreatedAt: t2})
		india := time.FixedZone("IST", 5*3600+1800)
		tests := []struct {
			name     string
			from, to *time.Time
			desc     bool
			want     string
		}{
			{"from, inclusive", ptr(t1), nil, false, "[c1 c2 c3]"},
			{"from within a microsecond", ptr(t0.Add(time.Nanosecond)), nil, false, "[c1 c2 c3]"},
			{"from just before", ptr(t1.Add(-time.Nanosecond)), nil, false, "[c1 c2 c3]"},
			{"from the first", ptr(t0.Add(-time.Minute)), nil, false, "[c0 c1 c2 c3 early]"},
			{"to, inclusive", nil, ptr(t1), false, "[c0 c1 early]"},
			{"to within a microsecond", nil, ptr(t1.Add(999 * time.Nanosecond)), false, "[c0 c1 early]"},
			{"to just before", nil, ptr(t1.Add(-time.Nanosecond)), false, "[c0 early]"},
			{"both", ptr(t1), ptr(t2), false, "[c1 c2]"},
			{"one instant", ptr(t2), ptr(t2), false, "[c2]"},
			{"another zone", ptr(t2.In(india)), nil, false, "[c2 c3]"},
			{"after all", ptr(t3.Add(time.Microsecond)), nil, false, "[]"},
			{"empty range", ptr(t2.Add(time.Nanosecond)), ptr(t2.Add(999 * time.Nanosecond)), false, "[]"},
			// Ordered by creation in the store (sequence), not by created_at.
			{"newest first", nil, ptr(t0), true, "[early c0]"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := paysync.CustomerFilter{CreatedFrom: tt.from, CreatedTo: tt.to, Desc: tt.desc}
				wantListed(t, db, "org1", f, tt.want, count(tt.want))
			})
		}
	})
}

func TestCustomersFilterPaging(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		const n = 25
		var all []string
		for i := range n {
			ext := fmt.Sprintf("e%02d", i)
			all = append(all, ext)
			c := &paysync.Customer{OrganizationID: "org1", ExternalID: ext}
			if i%3 == 0 {
				c.Metadata = []paysync.Metadata{{Key: "k", Value: "v"}}
			}
			put(t, db, c)
		}
		putAll(t, db, "org2", "o1", "o2")
		reversed := slices.Clone(all)
		slices.Reverse(reversed)
		span := func(ids []string, from, to int) string { return fmt.Sprint(ids[min(from, len(ids)):min(to, len(ids))]) }

		// Every window of Offset and Limit, both ways, with the total of
		// every match, whether the page tells it or it is counted.
		for _, limit := range []int{1, 2, 3, 7, 10, 24, 25, 26} {
			for offset := 0; offset <= n+2; offset++ {
				f := paysync.CustomerFilter{Limit: limit, Offset: offset}
				wantListed(t, db, "org1", f, span(all, offset, offset+limit), n)
				f.Desc = true
				wantListed(t, db, "org1", f, span(reversed, offset, offset+limit), n)
			}
		}
		tests := []struct {
			name  string
			f     paysync.CustomerFilter
			want  string
			total int
		}{
			{"all", paysync.CustomerFilter{All: true}, fmt.Sprint(all), n},
			{"all, newest first", paysync.CustomerFilter{All: true, Desc: true}, fmt.Sprint(reversed), n},
			{"all ignores paging", paysync.CustomerFilter{All: true, Page: 2, PerPage: 5, Limit: 3, Offset: 4}, fmt.Sprint(all), n},
			{"offset below 0", paysync.CustomerFilter{Limit: 3, Offset: -5}, "[e00 e01 e02]", n},
			{"offset far past the end", paysync.CustomerFilter{Limit: 3, Offset: math.MaxInt}, "[]", n},
			{"limit over page", paysync.CustomerFilter{Limit: 4, Page: 3, PerPage: 2}, "[e00 e01 e02 e03]", n},
			{"offset without limit is unused", paysync.CustomerFilter{Offset: 10, PerPage: 2}, "[e00 e01]", n},
			{"page, newest first", paysync.CustomerFilter{Page: 2, PerPage: 10, Desc: true}, span(reversed, 10, 20), n},
			{"last page, newest first", paysync.CustomerFilter{Page: 3, PerPage: 10, Desc: true}, span(reversed, 20, 30), n},
			{"page past the end", paysync.CustomerFilter{Page: 4, PerPage: 10}, "[]", n},
			{"filtered page", paysync.CustomerFilter{Metadata: map[string]string{"k": "v"}, Limit: 2, Offset: 1}, "[e03 e06]", 9},
			{"filtered, last page", paysync.CustomerFilter{Metadata: map[string]string{"k": "v"}, Limit: 4, Offset: 8, Desc: true}, "[e00]", 9},
			{"filtered, past the end", paysync.CustomerFilter{Metadata: map[string]string{"k": "v"}, Limit: 4, Offset: 9}, "[]", 9},
			{"filtered, all", paysync.CustomerFilter{Metadata: map[string]string{"k": "v"}, All: true, Desc: true},
				"[e24 e21 e18 e15 e12 e09 e06 e03 e00]", 9},
			{"filtered, nothing", paysync.CustomerFilter{Metadata: map[string]string{"k": "w"}, All: true}, "[]", 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantListed(t, db, "org1", tt.f, tt.want, tt.total) })
		}
		wantListed(t, db, "org-empty", paysync.CustomerFilter{Limit: 10}, "[]", 0)
		wantListed(t, db, "org-empty", paysync.CustomerFilter{All: true}, "[]", 0)
		wantListed(t, db, "org-empty", paysync.CustomerFilter{Limit: 10, Offset: 5}, "[]", 0)
	})
}

func TestPageBounds(t *testing.T) {
	for _, tt := range []struct {
		f             paysync.CustomerFilter
		limit, offset int
	}{
		{paysync.CustomerFilter{}, 20, 0},
		{paysync.CustomerFilter{Page: 3, PerPage: 10}, 10, 20},
		{paysync.CustomerFilter{Page: 2, PerPage: 1000}, 100, 100},
		{paysync.CustomerFilter{Limit: 1000, Offset: 7}, 1000, 7},
		{paysync.CustomerFilter{Limit: 1001, Offset: 7}, 1000, 7},
		{paysync.CustomerFilter{Limit: 5, Offset: -1, Page: 9, PerPage: 9}, 5, 0},
		{paysync.CustomerFilter{Limit: -5, Offset: 9, PerPage: 9}, 9, 0},
	} {
		if limit, offset := store.PageBounds(tt.f); limit != tt.limit || offset != tt.offset {
			t.Errorf("%+v: LIMIT %d OFFSET %d, want %d, %d", tt.f, limit, offset, tt.limit, tt.offset)
		}
	}
}

// TestCustomersFilterModel checks random combinations of every condition
// and of paging against a model: the conditions as plain Go over every
// customer, with the semantics paysync.CustomerFilter documents.
func TestCustomersFilterModel(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *store.DB) {
		rng := rand.New(rand.NewPCG(1, 2))
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		emails := []string{"", "a@x.test", "A@X.test", "b@x.test", "B@x.TEST", "c@y.test"}
		keys := []string{"plan", "region", "tier", ""}
		vals := []string{"pro", "free", "", "eu", `"q"`}
		pick := func(s []string) string { return s[rng.IntN(len(s))] }
		var org1 []*paysync.Customer
		for i := range 60 {
			org := "org1"
			if i%7 == 6 {
				org = "org2"
			}
			c := &paysync.Customer{OrganizationID: org, ExternalID: fmt.Sprintf("x%02d", i), Email: pick(emails),
				CreatedAt: base.Add(time.Duration(rng.IntN(20)) * time.Hour)}
			for range rng.IntN(4) {
				c.Metadata = append(c.Metadata, paysync.Metadata{Key: pick(keys), Value: pick(vals)})
			}
			got, _ := put(t, db, c)
			if org == "org1" {
				org1 = append(org1, got)
			}
		}
		match := func(c *paysync.Customer, f paysync.CustomerFilter) bool {
			switch {
			case len(f.IDs) > 0 && !slices.Contains(f.IDs, c.ID),
				len(f.ExternalIDs) > 0 && !slices.Contains(f.ExternalIDs, c.ExternalID),
				f.Email != "" && !strings.EqualFold(c.Email, f.Email), // ASCII emails only
				f.CreatedFrom != nil && c.CreatedAt.Before(*f.CreatedFrom),
				f.CreatedTo != nil && c.CreatedAt.After(*f.CreatedTo):
				return false
			}
			for k, v := range f.Metadata {
				if got, ok := c.MetadataValue(k); !ok || got != v {
					return false
				}
			}
			return true
		}
		someTime := func() *time.Time {
			at := base.Add(time.Duration(rng.IntN(22*60)-60) * time.Minute)
			return &at
		}
		for range 300 {
			f := paysync.CustomerFilter{Desc: rng.IntN(2) == 0, Limit: 1 + rng.IntN(20), Offset: rng.IntN(30)}
			if rng.IntN(4) == 0 {
				for range 1 + rng.IntN(8) {
					f.IDs = append(f.IDs, org1[rng.IntN(len(org1))].ID)
				}
			}
			if rng.IntN(4) == 0 {
				for range 1 + rng.IntN(8) {
					f.ExternalIDs = append(f.ExternalIDs, fmt.Sprintf("x%02d", rng.IntN(62)))
				}
			}
			if rng.IntN(3) == 0 {
				f.Email = pick(emails[1:])
			}
			if rng.IntN(3) == 0 {
				f.Metadata = map[string]string{}
				for range 1 + rng.IntN(2) {
					f.Metadata[pick(keys)] = pick(vals)
				}
			}
			if rng.IntN(3) == 0 {
				f.CreatedFrom = someTime()
			}
			if rng.IntN(3) == 0 {
				f.CreatedTo = someTime()
			}
			var want []string
			for _, c := range org1 {
				if match(c, f) {
					want = append(want, c.ExternalID)
				}
			}
			total := len(want)
			if f.Desc {
				slices.Reverse(want)
			}
			want = want[min(f.Offset, len(want)):min(f.Offset+f.Limit, len(want))]
			if want == nil {
				want = []string{}
			}
			wantListed(t, db, "org1", f, fmt.Sprint(want), total)
		}
	})
}
