package braintree

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

var _ paysync.CustomerLister = (*Provider)(nil)

// Braintree has no customer list, only a search: advanced_search_ids
// answers the ids matching a query (at most maxSearchIDs), then
// advanced_search the customers of up to searchPage of them. The adapter
// walks created_at windows, oldest first, each small enough that every
// page re-reads only a few thousand ids.
const (
	maxSearchIDs = 50_000
	searchPage   = 50
)

// windowIDs is the most ids a window may hold; a larger one is halved.
// Tests lower it to walk many windows.
var windowIDs = 2_500

// listEpoch is older than any Braintree customer: Braintree began in 2007.
var listEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// listCursor is where a listing stands; it travels as opaque base64 JSON.
// Times are Unix seconds, the resolution of Braintree's created_at.
type listCursor struct {
	// Upper is the newest second listed, fixed before the first page was
	// read: customers created later are not listed.
	Upper int64 `json:"u"`
	// From is the oldest second not yet listed; To ends the window being
	// listed (0: none chosen yet); Span is the length of the next window.
	From int64 `json:"f"`
	To   int64 `json:"t"`
	Span int64 `json:"s"`
	// After is the last id listed in the window: ids are listed in order,
	// so a customer deleted meanwhile shifts nothing.
	After string `json:"a,omitempty"`
}

// ListCustomers implements paysync.CustomerLister. The first page waits
// for the next second to begin (under a second), so that the whole of the
// second it fixes as the upper bound lies before it.
func (p *Provider) ListCustomers(ctx context.Context, cursor string, limit int) (paysync.CustomerPage, error) {
	limit = min(max(limit, 1), searchPage)
	c, err := startCursor(ctx, cursor)
	if err != nil {
		return paysync.CustomerPage{}, err
	}
	var page paysync.CustomerPage
	for {
		var ids []string
		if c.To == 0 {
			ids, err = p.window(ctx, &c)
		} else {
			ids, err = p.searchIDs(ctx, c.From, c.To)
		}
		if err != nil {
			return paysync.CustomerPage{}, err
		}
		rest := ids[sortedAfter(ids, c.After):]
		take := rest[:min(limit, len(rest))]
		if len(take) > 0 {
			if page.Customers, err = p.customers(ctx, c, take); err != nil {
				return paysync.CustomerPage{}, err
			}
		}
		switch {
		case len(rest) > len(take):
			c.After = take[len(take)-1]
		case c.To >= c.Upper:
			return page, nil
		default:
			// The window is done; a sparse one lets the next grow.
			if len(ids) < windowIDs/4 {
				c.Span *= 2
			}
			c.From, c.To, c.After = c.To+1, 0, ""
		}
		if len(take) > 0 {
			page.Next = c.encode()
			return page, nil
		}
	}
}

// startCursor decodes cursor, or starts a listing when it is "".
func startCursor(ctx context.Context, cursor string) (listCursor, error) {
	var c listCursor
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err == nil {
			err = json.Unmarshal(raw, &c)
		}
		if err != nil || c.Upper < c.From || c.Span < 1 {
			return c, &paysync.ProviderError{Provider: paysync.Braintree, Code: "invalid_cursor", Message: "braintree: not a customer list cursor"}
		}
		return c, nil
	}
	now := time.Now()
	next := now.Truncate(time.Second).Add(time.Second)
	select {
	case <-time.After(time.Until(next)):
	case <-ctx.Done():
		return c, ctx.Err()
	}
	c.Upper = next.Unix() - 1
	c.From = listEpoch
	c.Span = c.Upper - c.From + 1
	return c, nil
}

func (c listCursor) encode() string {
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// window chooses the window starting at c.From: Span seconds, halved
// until it holds at most windowIDs ids, and returns its ids.
func (p *Provider) window(ctx context.Context, c *listCursor) ([]string, error) {
	for {
		c.To = min(c.From+c.Span-1, c.Upper)
		ids, err := p.searchIDs(ctx, c.From, c.To)
		if err != nil {
			return nil, err
		}
		if len(ids) <= windowIDs || c.To == c.From {
			if len(ids) >= maxSearchIDs {
				return nil, &paysync.ProviderError{Provider: paysync.Braintree, Code: "search_limit",
					Message: fmt.Sprintf("braintree: %d or more customers created in one second, more than a search answers", maxSearchIDs)}
			}
			return ids, nil
		}
		c.Span = max(1, (c.To-c.From+1)/2)
	}
}

// createdBetween is a search of the customers created in the seconds
// from to to, both included.
func createdBetween(from, to int64) *bt.SearchQuery {
	q := new(bt.SearchQuery)
	f := q.AddTimeField("created-at")
	f.Min, f.Max = time.Unix(from, 0), time.Unix(to, 0)
	return q
}

// searchIDs returns the ids of the customers created from from to to, sorted.
func (p *Provider) searchIDs(ctx context.Context, from, to int64) ([]string, error) {
	ctx, x := providers.WithLastResponse(ctx)
	res, err := p.gw.Customer().SearchIDs(ctx, createdBetween(from, to))
	if err != nil {
		return nil, classify(err, x)
	}
	ids := slices.Clone(res.IDs)
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// customers reads the customers ids names (still in c's window), in the
// order of ids; one deleted meanwhile is left out.
func (p *Provider) customers(ctx context.Context, c listCursor, ids []string) ([]paysync.ListedCustomer, error) {
	ctx, x := providers.WithLastResponse(ctx)
	res, err := p.gw.Customer().SearchPage(ctx, createdBetween(c.From, c.To), &bt.SearchResult{PageSize: len(ids), PageCount: 1, IDs: ids}, 1)
	if err != nil {
		return nil, classify(err, x)
	}
	byID := make(map[string]*bt.Customer, len(res.Customers))
	for _, cu := range res.Customers {
		byID[cu.Id] = cu
	}
	var out []paysync.ListedCustomer
	for _, id := range ids {
		if cu, ok := byID[id]; ok {
			name := strings.TrimSpace(cu.FirstName + " " + cu.LastName)
			if name == "" {
				name = cu.Company
			}
			out = append(out, paysync.ListedCustomer{ID: cu.Id, Email: cu.Email, Name: name})
		}
	}
	return out, nil
}

// sortedAfter is the index of the first of the sorted ids after id.
func sortedAfter(ids []string, id string) int {
	if id == "" {
		return 0
	}
	i, found := slices.BinarySearch(ids, id)
	if found {
		i++
	}
	return i
}
