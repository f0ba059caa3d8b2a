package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/paysync/paysync"
)

// flexpriceCustomer is a Flexprice create (dto.CreateCustomerRequest) or
// update (dto.UpdateCustomerRequest) body. An update changes only the keys
// given: absent and null both leave a value alone, as the peer's pointer
// fields do.
type flexpriceCustomer struct {
	ExternalID opt[string]
	Name       opt[string]
	Email      opt[string]
	Contact    opt[string]
	Timezone   opt[string]
	Line1      opt[string]
	Line2      opt[string]
	City       opt[string]
	State      opt[string]
	PostalCode opt[string]
	Country    opt[string]
	Metadata   opt[map[string]string]
}

// Flexprice's length limits (dto validate tags, the spec's maxLength),
// counted in characters as go-playground/validator counts strings.
var flexpriceMaxLen = map[string]int{
	"name":                255,
	"contact":             20,
	"address_line1":       255,
	"address_line2":       255,
	"address_city":        100,
	"address_state":       100,
	"address_postal_code": 20,
}

// readFlexpriceCustomer reads and validates a create (create true) or
// update body. Unknown keys (integration_entity_mapping,
// tax_rate_overrides, ...) are ignored, as gin's binding ignores them.
func readFlexpriceCustomer(w http.ResponseWriter, r *http.Request, create bool) (*flexpriceCustomer, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	obj, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	v := paysync.Validation{}
	in := parseFlexpriceCustomer(obj, v)
	in.normalize()
	in.validate(v, create)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return in, nil
}

func parseFlexpriceCustomer(obj map[string]json.RawMessage, v paysync.Validation) *flexpriceCustomer {
	f := newFields(obj, v, nil)
	c := &flexpriceCustomer{
		ExternalID: f.str("external_id"),
		Name:       f.str("name"),
		Email:      f.str("email"),
		Contact:    f.str("contact"),
		Timezone:   f.str("timezone"),
		Line1:      f.str("address_line1"),
		Line2:      f.str("address_line2"),
		City:       f.str("address_city"),
		State:      f.str("address_state"),
		PostalCode: f.str("address_postal_code"),
		Country:    f.str("address_country"),
	}
	c.Metadata = readStringMap(f, "metadata", v)
	return c
}

// readStringMap reads an object whose values are strings (Go's
// map[string]string); a value of another type is reported as
// "<key>.<entry>". A null value reads as "", as encoding/json reads it.
func readStringMap(f *fields, key string, v paysync.Validation) opt[map[string]string] {
	mf, o := f.object(key, func(k string) string { return key + "." + k })
	if mf == nil {
		return opt[map[string]string]{Set: o.Set, Null: o.Null}
	}
	out := make(map[string]string, len(mf.obj))
	blank := false
	for k := range mf.obj {
		s := mf.str(k)
		if !s.Set {
			continue // a type error, already recorded
		}
		k = strings.ReplaceAll(k, "\x00", "")
		if strings.TrimSpace(k) == "" {
			// Lago, reading the same customer, needs a key on every entry.
			if !blank {
				v.Add(key, reasonInvalid)
			}
			blank = true
			continue
		}
		out[k] = s.V
	}
	return opt[map[string]string]{Set: true, V: out}
}

// normalize upper-cases the country, as every dialect stores it, and
// trims the email.
func (c *flexpriceCustomer) normalize() {
	c.Country.V = strings.ToUpper(strings.TrimSpace(c.Country.V))
	c.Email.V = strings.TrimSpace(c.Email.V)
}

// validate applies Flexprice's dto rules: external_id required on create,
// email format, ISO 3166-1 alpha-2 country, IANA timezone, lengths.
func (c *flexpriceCustomer) validate(v paysync.Validation, create bool) {
	if strings.TrimSpace(c.ExternalID.V) == "" && (create || c.ExternalID.given()) {
		v.Add("external_id", reasonMandatory)
	}
	if c.Email.V != "" && !emailPattern.MatchString(c.Email.V) {
		v.Add("email", reasonEmail)
	}
	checkCountry(v, "address_country", c.Country.V)
	if c.Timezone.V != "" && !paysync.ValidTimezone(c.Timezone.V) {
		v.Add("timezone", reasonTimezone)
	}
	values := map[string]string{
		"name": c.Name.V, "contact": c.Contact.V, "address_line1": c.Line1.V, "address_line2": c.Line2.V,
		"address_city": c.City.V, "address_state": c.State.V, "address_postal_code": c.PostalCode.V,
	}
	for field, s := range values {
		if utf8.RuneCountInString(s) > flexpriceMaxLen[field] {
			v.Add(field, reasonTooLong)
		}
	}
}

// apply copies the given keys onto the customer. contact is the phone
// Lago and Lotus know; metadata replaces the customer's whole list, each
// entry keeping what Lago set on it (display_in_invoice) when its key
// survives.
func (c *flexpriceCustomer) apply(dst *paysync.Customer) {
	setGiven(&dst.Name, c.Name)
	setGiven(&dst.Email, c.Email)
	setGiven(&dst.Phone, c.Contact)
	setGiven(&dst.Timezone, c.Timezone)
	setGiven(&dst.BillingAddress.Line1, c.Line1)
	setGiven(&dst.BillingAddress.Line2, c.Line2)
	setGiven(&dst.BillingAddress.City, c.City)
	setGiven(&dst.BillingAddress.State, c.State)
	setGiven(&dst.BillingAddress.PostalCode, c.PostalCode)
	setGiven(&dst.BillingAddress.Country, c.Country)
	if !c.Metadata.given() {
		return
	}
	old := make(map[string]paysync.Metadata, len(dst.Metadata))
	for _, m := range dst.Metadata {
		old[m.Key] = m
	}
	keys := sortedKeys(c.Metadata.V)
	items := make([]paysync.Metadata, 0, len(keys))
	for _, k := range keys {
		m := paysync.Metadata{Key: k, Value: c.Metadata.V[k]}
		if prev, ok := old[k]; ok {
			m.ID, m.CreatedAt, m.DisplayInInvoice = prev.ID, prev.CreatedAt, prev.DisplayInInvoice
		}
		items = append(items, m)
	}
	dst.Metadata = items
}

func setGiven(dst *string, o opt[string]) {
	if o.given() {
		*dst = o.V
	}
}
