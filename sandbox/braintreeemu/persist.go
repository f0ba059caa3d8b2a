package braintreeemu

import (
	"context"
	"time"

	"github.com/paysync/paysync/sandbox/state"
)

// kindCustomer is the one kind the emulator keeps: a customer with its
// vaulted payment methods.
const kindCustomer = "customer"

// The stored forms of a customer and its payment methods.
type (
	customerRecord struct {
		ID, FirstName, LastName, Company, Email, Phone, Fax, Website string
		CreatedAt, UpdatedAt                                         time.Time
		Methods                                                      []methodRecord
	}
	methodRecord struct {
		Kind, Token                                                   string
		IsDefault                                                     bool
		CreatedAt, UpdatedAt                                          time.Time
		CardType, BIN, Last4, ExpMonth, ExpYear, ImageURL, PayerEmail string
	}
)

// NewWithState returns an emulator holding the customers st kept, which
// writes every change through to st.
func NewWithState(ctx context.Context, st *state.Store) (*Emulator, error) {
	e := New()
	e.state = st
	err := state.Load(ctx, st, kindCustomer, func(id string, r *customerRecord) {
		c := &customer{id: r.ID, firstName: r.FirstName, lastName: r.LastName, company: r.Company, email: r.Email,
			phone: r.Phone, fax: r.Fax, website: r.Website, createdAt: r.CreatedAt, updatedAt: r.UpdatedAt}
		for _, m := range r.Methods {
			pm := &paymentMethod{kind: m.Kind, token: m.Token, isDefault: m.IsDefault, createdAt: m.CreatedAt, updatedAt: m.UpdatedAt,
				cardType: m.CardType, bin: m.BIN, last4: m.Last4, expMonth: m.ExpMonth, expYear: m.ExpYear, imageURL: m.ImageURL,
				payerEmail: m.PayerEmail}
			c.methods = append(c.methods, pm)
			e.owners[pm.token] = c
		}
		e.customers[id] = c
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// saveCustomer writes c and its payment methods through; e.mu is held.
// Without a state store it does nothing.
func (e *Emulator) saveCustomer(c *customer) {
	if e.state != nil {
		e.state.Put(kindCustomer, c.id, record(c))
	}
}

// record is the stored form of c.
func record(c *customer) customerRecord {
	r := customerRecord{ID: c.id, FirstName: c.firstName, LastName: c.lastName, Company: c.company, Email: c.email,
		Phone: c.phone, Fax: c.fax, Website: c.website, CreatedAt: c.createdAt, UpdatedAt: c.updatedAt, Methods: []methodRecord{}}
	for _, pm := range c.methods {
		r.Methods = append(r.Methods, methodRecord{Kind: pm.kind, Token: pm.token, IsDefault: pm.isDefault, CreatedAt: pm.createdAt,
			UpdatedAt: pm.updatedAt, CardType: pm.cardType, BIN: pm.bin, Last4: pm.last4, ExpMonth: pm.expMonth, ExpYear: pm.expYear,
			ImageURL: pm.imageURL, PayerEmail: pm.payerEmail})
	}
	return r
}

// forgetCustomer forgets the customer id; e.mu is held.
func (e *Emulator) forgetCustomer(id string) {
	if e.state != nil {
		e.state.Delete(kindCustomer, id)
	}
}
