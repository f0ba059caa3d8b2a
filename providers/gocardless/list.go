package gocardless

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/paysync/paysync"
)

var _ paysync.CustomerLister = (*Provider)(nil)

// ListCustomers implements paysync.CustomerLister with GoCardless's cursor
// paging (`after`, `meta.cursors.after`); GoCardless pages hold at most 500.
func (p *Provider) ListCustomers(ctx context.Context, cursor string, limit int) (paysync.CustomerPage, error) {
	q := url.Values{"limit": {strconv.Itoa(min(max(limit, 1), 500))}}
	if cursor != "" {
		q.Set("after", cursor)
	}
	var out struct {
		Customers []customer `json:"customers"`
		Meta      struct {
			Cursors struct {
				After *string `json:"after"`
			} `json:"cursors"`
		} `json:"meta"`
	}
	if err := p.api.get(ctx, "/customers", q, &out); err != nil {
		return paysync.CustomerPage{}, err
	}
	page := paysync.CustomerPage{Customers: make([]paysync.ListedCustomer, 0, len(out.Customers))}
	for _, c := range out.Customers {
		name := strings.TrimSpace(c.GivenName + " " + c.FamilyName)
		if c.CompanyName != "" {
			name = c.CompanyName
		}
		page.Customers = append(page.Customers, paysync.ListedCustomer{ID: c.ID, Email: c.Email, Name: name, Metadata: c.Metadata})
	}
	if a := out.Meta.Cursors.After; a != nil && len(out.Customers) > 0 {
		page.Next = *a
	}
	return page, nil
}
