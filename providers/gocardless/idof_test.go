package gocardless_test

import "github.com/paysync/paysync"

// idOf keeps the id of CreateCustomer's result, for tests about the id.
func idOf(c paysync.ProviderCustomer, err error) (string, error) { return c.ID, err }
