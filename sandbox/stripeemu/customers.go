package stripeemu

import (
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// customerParams are the customer parameters the emulator models.
var customerParams = []string{
	"name", "email", "phone", "description", "address", "shipping", "metadata",
	"preferred_locales", "invoice_settings", "expand",
}

// ignoredCustomerParams are Stripe customer parameters the emulator accepts
// and does not model: valid at Stripe, so not an error here.
var ignoredCustomerParams = []string{
	"balance", "cash_balance", "coupon", "invoice_prefix", "next_invoice_sequence",
	"promotion_code", "tax", "tax_exempt", "tax_id_data", "test_clock", "validate",
}

func (e *Emulator) createCustomer(r *request) (int, any, *apiError) {
	c := &Customer{ID: newID("cus_", 14), Created: e.now().Unix()}
	if err := e.applyCustomer(c, r.form); err != nil {
		return 0, nil, err
	}
	e.addCustomer(c)
	e.saveCustomer(c)
	return http.StatusOK, c.wire(), nil
}

func (e *Emulator) getCustomer(r *request) (int, any, *apiError) {
	if p := unknown(r.form, "", "expand"); p != "" {
		return 0, nil, unknownParam(p)
	}
	id := r.PathValue("id")
	c, ok := e.customers[id]
	if !ok {
		return 0, nil, noSuch(http.StatusNotFound, "customer", id, "id")
	}
	// A deleted customer still answers 200, as the stub {id, deleted: true}.
	return http.StatusOK, c.wire(), nil
}

func (e *Emulator) updateCustomer(r *request) (int, any, *apiError) {
	id := r.PathValue("id")
	c, ok := e.live(id)
	if !ok {
		return 0, nil, noSuch(http.StatusNotFound, "customer", id, "id")
	}
	// Apply to a copy so that a rejected update changes nothing.
	u := c.clone()
	if err := e.applyCustomer(&u, r.form); err != nil {
		return 0, nil, err
	}
	before := c.wire()
	*c = u
	e.saveCustomer(c)
	e.customerUpdated(c, before, apiRequest(r.Request, r.id))
	return http.StatusOK, c.wire(), nil
}

func (e *Emulator) deleteCustomer(r *request) (int, any, *apiError) {
	id := r.PathValue("id")
	c, ok := e.live(id)
	if !ok {
		return 0, nil, noSuch(http.StatusNotFound, "customer", id, "id")
	}
	_, _ = e.detach(id)
	// customer.deleted carries the customer as it last was, not the stub.
	e.emit("customer.deleted", c.wire(), nil, apiRequest(r.Request, r.id))
	c.Deleted = true
	e.saveCustomer(c)
	return http.StatusOK, c.wire(), nil
}

func (e *Emulator) listCustomers(r *request) (int, any, *apiError) {
	f := r.form
	if p := unknown(f, "", "limit", "starting_after", "ending_before", "email", "created", "expand", "test_clock"); p != "" {
		return 0, nil, unknownParam(p)
	}
	limit, err := limitParam(f)
	if err != nil {
		return 0, nil, err
	}
	email, byEmail := str(f, "email")
	listed := func(i int) *Customer {
		c := e.customers[e.created[i]]
		if c.Deleted || (byEmail && c.Email != email) {
			return nil
		}
		return c
	}
	// A page walks from its cursor's place, newest first, so that it costs
	// its length and not the number of customers.
	cursor := func(param string) (int, *apiError) {
		id, _ := str(f, param)
		i, ok := e.place[id]
		if !ok || listed(i) == nil {
			return 0, noSuch(http.StatusBadRequest, "customer", id, param)
		}
		return i, nil
	}
	var page []*Customer
	more := false
	take := func(c *Customer) bool {
		if c == nil {
			return true
		}
		if len(page) == limit {
			more = true
			return false
		}
		page = append(page, c)
		return true
	}
	if before, _ := str(f, "ending_before"); before != "" {
		end, err := cursor("ending_before")
		if err != nil {
			return 0, nil, err
		}
		for i := end + 1; i < len(e.created) && take(listed(i)); i++ {
		}
		slices.Reverse(page)
	} else {
		start := len(e.created)
		if after, _ := str(f, "starting_after"); after != "" {
			if start, err = cursor("starting_after"); err != nil {
				return 0, nil, err
			}
		}
		for i := start - 1; i >= 0 && take(listed(i)); i-- {
		}
	}
	data := make([]any, len(page))
	for i, c := range page {
		data[i] = c.wire()
	}
	return http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": more, "url": "/v1/customers"}, nil
}

// addCustomer adds a new customer, the newest.
func (e *Emulator) addCustomer(c *Customer) {
	e.customers[c.ID] = c
	e.place[c.ID] = len(e.created)
	e.created = append(e.created, c.ID)
}

func (e *Emulator) searchCustomers(r *request) (int, any, *apiError) {
	f := r.form
	if p := unknown(f, "", "query", "limit", "page", "expand"); p != "" {
		return 0, nil, unknownParam(p)
	}
	qs, ok := str(f, "query")
	if !ok || qs == "" {
		return 0, nil, missingParam("query")
	}
	q, err := parseQuery(qs)
	if err != nil {
		return 0, nil, err
	}
	limit, err := limitParam(f)
	if err != nil {
		return 0, nil, err
	}
	offset := 0
	if p, ok := str(f, "page"); ok && p != "" {
		n, perr := strconv.Atoi(strings.TrimPrefix(p, "page_"))
		if !strings.HasPrefix(p, "page_") || perr != nil || n < 0 {
			return 0, nil, invalid("page", "Invalid page: %s", p)
		}
		offset = n
	}
	var matches []*Customer
	for i := len(e.created) - 1; i >= 0; i-- {
		if c := e.customers[e.created[i]]; !c.Deleted && q.match(c) {
			matches = append(matches, c)
		}
	}
	body := map[string]any{"object": "search_result", "url": "/v1/customers/search", "has_more": false, "next_page": nil}
	data := []any{}
	for i := offset; i < len(matches) && i < offset+limit; i++ {
		data = append(data, matches[i].wire())
	}
	body["data"] = data
	if offset+limit < len(matches) {
		body["has_more"] = true
		body["next_page"] = "page_" + strconv.Itoa(offset+limit)
	}
	if slices.Contains(list(f, "expand"), "total_count") {
		body["total_count"] = len(matches)
	}
	return http.StatusOK, body, nil
}

func (e *Emulator) listPaymentMethods(r *request) (int, any, *apiError) {
	f := r.form
	if p := unknown(f, "", "limit", "starting_after", "ending_before", "type", "expand", "allow_redisplay"); p != "" {
		return 0, nil, unknownParam(p)
	}
	id := r.PathValue("id")
	if _, ok := e.live(id); !ok {
		return 0, nil, noSuch(http.StatusNotFound, "customer", id, "customer")
	}
	var ids []string
	if typ, ok := str(f, "type"); !ok || typ == "card" {
		owned := e.byOwner[id]
		for i := len(owned) - 1; i >= 0; i-- {
			ids = append(ids, owned[i])
		}
	}
	page, more, err := paginate(ids, f, "payment_method")
	if err != nil {
		return 0, nil, err
	}
	data := make([]any, len(page))
	for i, pm := range page {
		data[i] = e.methods[pm].wire()
	}
	return http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": more, "url": "/v1/customers/" + id + "/payment_methods"}, nil
}

// applyCustomer writes the create or update parameters f onto c. An empty
// value unsets a field, as on Stripe.
func (e *Emulator) applyCustomer(c *Customer, f url.Values) *apiError {
	if p := unknown(f, "", append(slices.Clone(customerParams), ignoredCustomerParams...)...); p != "" {
		if p == "payment_method" || p == "source" {
			return invalid(p, "stripeemu does not model %s; attach a test card with POST /_sandbox/customers/{id}/payment_methods.", p)
		}
		return unknownParam(p)
	}
	for _, field := range []struct {
		name string
		dst  *string
		max  int
	}{{"name", &c.Name, 256}, {"email", &c.Email, 512}, {"phone", &c.Phone, 20}, {"description", &c.Description, 350}} {
		v, ok, err := scalar(f, field.name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if utf8.RuneCountInString(v) > field.max {
			return invalid(field.name, "Invalid %s: must be at most %d characters", field.name, field.max)
		}
		*field.dst = v
	}
	if c.Email != "" && !validEmail(c.Email) {
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "email_invalid", param: "email",
			message: "Invalid email address: " + c.Email}
	}

	if cleared(f, "address") {
		c.Address = nil
	} else if a := sub(f, "address"); len(a) > 0 {
		addr := Address{}
		if c.Address != nil {
			addr = *c.Address
		}
		if err := applyAddress(&addr, a, "address"); err != nil {
			return err
		}
		c.Address = &addr
	}

	if cleared(f, "shipping") {
		c.Shipping = nil
	} else if s := sub(f, "shipping"); len(s) > 0 {
		if p := unknown(s, "shipping", "name", "phone", "address"); p != "" {
			return unknownParam(p)
		}
		sh := Shipping{}
		name, ok, err := scalar(s, "name")
		if err != nil {
			return err
		}
		if !ok || name == "" {
			return missingParam("shipping[name]")
		}
		sh.Name = name
		if sh.Phone, _, err = scalar(s, "phone"); err != nil {
			return err
		}
		a := sub(s, "address")
		if len(a) == 0 {
			return missingParam("shipping[address]")
		}
		if err := applyAddress(&sh.Address, a, "shipping[address]"); err != nil {
			return err
		}
		c.Shipping = &sh
	}

	if cleared(f, "metadata") {
		c.Metadata = nil
	} else if m := sub(f, "metadata"); len(m) > 0 {
		if c.Metadata == nil {
			c.Metadata = map[string]string{}
		}
		for k, vs := range m {
			if strings.ContainsAny(k, "[]") {
				return invalid("metadata", "Invalid value for metadata: nested objects are not supported.")
			}
			if utf8.RuneCountInString(k) > 40 {
				return invalid("metadata["+k+"]", "Metadata keys can have up to 40 characters.")
			}
			v := vs[0]
			if utf8.RuneCountInString(v) > 500 {
				return invalid("metadata["+k+"]", "Metadata values can have up to 500 characters, but you passed in a value that is %d characters.", utf8.RuneCountInString(v))
			}
			if v == "" {
				delete(c.Metadata, k)
				continue
			}
			c.Metadata[k] = v
		}
		if len(c.Metadata) > 50 {
			return invalid("metadata", "You can have up to 50 metadata keys.")
		}
	}

	if cleared(f, "preferred_locales") {
		c.PreferredLocales = nil
	} else if has(f, "preferred_locales") {
		c.PreferredLocales = list(f, "preferred_locales")
	}

	if s := sub(f, "invoice_settings"); len(s) > 0 {
		if p := unknown(s, "invoice_settings", "default_payment_method", "custom_fields", "footer", "rendering_options"); p != "" {
			return unknownParam(p)
		}
		if pm, ok := str(s, "default_payment_method"); ok {
			if pm != "" {
				m, ok := e.methods[pm]
				if !ok {
					return noSuch(http.StatusBadRequest, "PaymentMethod", pm, "invoice_settings[default_payment_method]")
				}
				if m.customer != c.ID {
					return invalid("invoice_settings[default_payment_method]",
						"The customer does not have a payment method with the ID %s. The payment method must be attached to the customer.", pm)
				}
			}
			c.DefaultPaymentMethod = pm
		}
	}
	return nil
}

func applyAddress(a *Address, f url.Values, prefix string) *apiError {
	if p := unknown(f, prefix, "line1", "line2", "city", "state", "postal_code", "country"); p != "" {
		return unknownParam(p)
	}
	for _, field := range []struct {
		name string
		dst  *string
	}{{"line1", &a.Line1}, {"line2", &a.Line2}, {"city", &a.City}, {"state", &a.State}, {"postal_code", &a.PostalCode}, {"country", &a.Country}} {
		v, ok, err := scalar(f, field.name)
		if err != nil {
			return err
		}
		if ok {
			*field.dst = v
		}
	}
	return nil
}

// scalar reads a string parameter, rejecting a hash sent in its place.
func scalar(f url.Values, name string) (string, bool, *apiError) {
	v, ok := str(f, name)
	if !ok && has(f, name) {
		return "", false, invalid(name, "Invalid string: a hash was given for %s", name)
	}
	return v, ok, nil
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@'):], ".")
}

// limitParam reads a list's limit: 10 by default, 1 to 100.
func limitParam(f url.Values) (int, *apiError) {
	v, ok := str(f, "limit")
	if !ok || v == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalid("limit", "Invalid integer: %s", v)
	}
	if n < 1 {
		return 0, invalid("limit", "This value must be greater than or equal to 1.")
	}
	if n > 100 {
		return 0, invalid("limit", "This value must be less than or equal to 100.")
	}
	return n, nil
}

// paginate pages ids (newest first) with Stripe's limit, starting_after
// and ending_before, and reports whether more follow in that direction.
func paginate(ids []string, f url.Values, kind string) ([]string, bool, *apiError) {
	limit, err := limitParam(f)
	if err != nil {
		return nil, false, err
	}
	if before, ok := str(f, "ending_before"); ok && before != "" {
		end := slices.Index(ids, before)
		if end < 0 {
			return nil, false, noSuch(http.StatusBadRequest, kind, before, "ending_before")
		}
		start := max(0, end-limit)
		return ids[start:end], start > 0, nil
	}
	start := 0
	if after, ok := str(f, "starting_after"); ok && after != "" {
		i := slices.Index(ids, after)
		if i < 0 {
			return nil, false, noSuch(http.StatusBadRequest, kind, after, "starting_after")
		}
		start = i + 1
	}
	end := min(start+limit, len(ids))
	return ids[start:end], end < len(ids), nil
}
