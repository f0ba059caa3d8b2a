package stripe

import (
	"context"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

var _ paysync.CustomerLister = (*Provider)(nil)

// ListCustomers implements paysync.CustomerLister: Stripe lists newest
// first and pages with starting_after, so customers created during an
// import come before its first page and never shift the pages it reads.
func (p *Provider) ListCustomers(ctx context.Context, cursor string, limit int) (paysync.CustomerPage, error) {
	ctx, last := providers.WithLastResponse(ctx)
	params := &stripego.CustomerListParams{}
	params.Context = ctx
	params.Limit = stripego.Int64(int64(min(max(limit, 1), 100)))
	params.Single = true
	if cursor != "" {
		params.StartingAfter = stripego.String(cursor)
	}
	it := p.api.Customers.List(params)
	var page paysync.CustomerPage
	for it.Next() {
		c := it.Customer()
		page.Customers = append(page.Customers, paysync.ListedCustomer{ID: c.ID, Email: c.Email, Name: c.Name, Metadata: c.Metadata})
	}
	if err := it.Err(); err != nil {
		return paysync.CustomerPage{}, classify(err, last)
	}
	if n := len(page.Customers); n > 0 && it.CustomerList().HasMore {
		page.Next = page.Customers[n-1].ID
	}
	return page, nil
}
