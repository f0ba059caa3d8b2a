package gocardlessemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// customerFields are the writable fields of a customer. Unset fields are
// nil so that they render as null, as GoCardless renders them.
type customerFields struct {
	Email                 *string           `json:"email"`
	GivenName             *string           `json:"given_name"`
	FamilyName            *string           `json:"family_name"`
	CompanyName           *string           `json:"company_name"`
	AddressLine1          *string           `json:"address_line1"`
	AddressLine2          *string           `json:"address_line2"`
	AddressLine3          *string           `json:"address_line3"`
	City                  *string           `json:"city"`
	Region                *string           `json:"region"`
	PostalCode            *string           `json:"postal_code"`
	CountryCode           *string           `json:"country_code"`
	Language              *string           `json:"language"`
	PhoneNumber           *string           `json:"phone_number"`
	DanishIdentityNumber  *string           `json:"danish_identity_number"`
	SwedishIdentityNumber *string           `json:"swedish_identity_number"`
	Metadata              map[string]string `json:"metadata"`
}

type customer struct {
	ID        string `json:"id"`
	CreatedAt string `json:"created_at"`
	customerFields
	seq     int
	removed bool
}

type mandate struct {
	ID                      string            `json:"id"`
	CreatedAt               string            `json:"created_at"`
	Reference               string            `json:"reference"`
	Status                  string            `json:"status"`
	Scheme                  string            `json:"scheme"`
	NextPossibleChargeDate  *string           `json:"next_possible_charge_date"`
	PaymentsRequireApproval bool              `json:"payments_require_approval"`
	AuthorisationSource     string            `json:"authorisation_source"`
	FundsSettlement         string            `json:"funds_settlement"`
	Metadata                map[string]string `json:"metadata"`
	Links                   mandateLinks      `json:"links"`
	seq                     int
}

type mandateLinks struct {
	Creditor            string `json:"creditor"`
	Customer            string `json:"customer"`
	CustomerBankAccount string `json:"customer_bank_account"`
}

type billingRequest struct {
	ID              string                 `json:"id"`
	CreatedAt       string                 `json:"created_at"`
	Status          string                 `json:"status"`
	MandateRequest  *mandateRequest        `json:"mandate_request"`
	PaymentRequest  *struct{}              `json:"payment_request"`
	Metadata        map[string]string      `json:"metadata"`
	FallbackEnabled bool                   `json:"fallback_enabled"`
	Actions         []billingRequestAction `json:"actions"`
	Links           map[string]string      `json:"links"`
}

type mandateRequest struct {
	Currency *string           `json:"currency"`
	Scheme   *string           `json:"scheme"`
	Verify   string            `json:"verify"`
	Metadata map[string]string `json:"metadata"`
	Links    map[string]string `json:"links"`
}

type billingRequestAction struct {
	Type             string   `json:"type"`
	Required         bool     `json:"required"`
	CompletesActions []string `json:"completes_actions"`
	RequiresActions  []string `json:"requires_actions"`
	Status           string   `json:"status"`
}

type flow struct {
	ID                        string    `json:"id"`
	CreatedAt                 string    `json:"created_at"`
	ExpiresAt                 string    `json:"expires_at"`
	AuthorisationURL          string    `json:"authorisation_url"`
	RedirectURI               *string   `json:"redirect_uri"`
	ExitURI                   *string   `json:"exit_uri"`
	Language                  *string   `json:"language"`
	AutoFulfil                bool      `json:"auto_fulfil"`
	CustomerDetailsCaptured   bool      `json:"customer_details_captured"`
	LockBankAccount           bool      `json:"lock_bank_account"`
	LockCurrency              bool      `json:"lock_currency"`
	LockCustomerDetails       bool      `json:"lock_customer_details"`
	ShowRedirectButtons       bool      `json:"show_redirect_buttons"`
	ShowSuccessRedirectButton bool      `json:"show_success_redirect_button"`
	SkipSuccessScreen         bool      `json:"skip_success_screen"`
	SessionToken              *string   `json:"session_token"`
	PrefilledCustomer         *struct{} `json:"prefilled_customer"`
	PrefilledBankAccount      *struct{} `json:"prefilled_bank_account"`
	Links                     struct {
		BillingRequest string `json:"billing_request"`
	} `json:"links"`
	expires time.Time
	done    bool
}

// Languages GoCardless sends notifications in.
var languages = []string{"da", "de", "en", "es", "fi", "fr", "it", "nb", "nl", "pt", "sl", "sv"}

// countryLanguage is GoCardless's default language for a customer without one.
var countryLanguage = map[string]string{
	"AT": "de", "BE": "nl", "DE": "de", "DK": "da", "ES": "es", "FI": "fi", "FR": "fr",
	"IT": "it", "NL": "nl", "NO": "nb", "PT": "pt", "SE": "sv", "SI": "sl",
}

// Schemes a mandate request may name.
var schemes = []string{"ach", "autogiro", "bacs", "becs", "becs_nz", "betalingsservice", "faster_payments", "pad", "pay_to", "sepa_core"}

// Mandate statuses, for validating list filters.
var mandateStatuses = []string{"pending_customer_approval", "pending_submission", "submitted", "active",
	"failed", "cancelled", "expired", "consumed", "blocked", "suspended_by_payer"}

// decode reads the request body {"<key>": {...}} into dst, rejecting
// fields the emulator does not know so that a misspelt parameter fails
// loudly instead of being dropped.
func decode(w http.ResponseWriter, r *http.Request, key string, dst any) bool {
	fail := func(msg string) bool {
		writeError(w, http.StatusBadRequest, typeInvalidAPIUsage, msg,
			errorDetail{Reason: "invalid_document_structure", Message: msg})
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return fail("Invalid document structure: " + err.Error())
	}
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fail("Invalid document structure: body is not a JSON object")
	}
	raw, ok := envelope[key]
	if !ok || len(envelope) != 1 {
		return fail(fmt.Sprintf("Invalid document structure: the body must be one object under %q", key))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fail("Invalid document structure: " + err.Error())
	}
	return true
}

// remember reports the resource an earlier request with this idempotency
// key created at this endpoint; GoCardless answers such a repeat with 409.
// Once the request created its resource, created(key, id) records it.
// Call with e.mu held.
func (e *Emulator) remember(w http.ResponseWriter, r *http.Request) (key string, replayed bool) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", false
	}
	key = r.URL.Path + "\x00" + k
	if id, ok := e.idempotency[key]; ok {
		msg := "A resource has already been created with this idempotency key"
		writeError(w, http.StatusConflict, typeInvalidState, msg, errorDetail{
			Reason:  "idempotent_creation_conflict",
			Message: msg,
			Links:   map[string]string{"conflicting_resource_id": id},
		})
		return key, true
	}
	return key, false
}

// created records that the request with idempotency key (from remember)
// created the resource id. Call with e.mu held.
func (e *Emulator) created(key, id string) {
	if key != "" {
		e.idempotency[key] = id
		e.saveIdempotency(key, id)
	}
}

// addCustomer stores a new customer with the fields given. Call with e.mu
// held.
func (e *Emulator) addCustomer(fields customerFields) *customer {
	e.seq++
	c := &customer{ID: e.uniqueID("CU"), CreatedAt: timestamp(time.Now()), customerFields: fields, seq: e.seq}
	e.customers[c.ID] = c
	e.saveCustomer(c)
	return c
}

// liveCustomer is the customer id names, unless it is unknown or was
// removed: a removed customer cannot be loaded by id any more. Call with
// e.mu held.
func (e *Emulator) liveCustomer(id string) (*customer, bool) {
	c, ok := e.customers[id]
	return c, ok && !c.removed
}

// pathCustomer is the live customer the request's {id} names; for any
// other it answers 404. Call with e.mu held.
func (e *Emulator) pathCustomer(w http.ResponseWriter, r *http.Request) (*customer, bool) {
	c, ok := e.liveCustomer(r.PathValue("id"))
	if !ok {
		notFound(w)
	}
	return c, ok
}

func (e *Emulator) createCustomer(w http.ResponseWriter, r *http.Request) {
	var in customerFields
	if !decode(w, r, "customers", &in) {
		return
	}
	if errs := validateCustomer(&in); len(errs) > 0 {
		validationError(w, "customers", errs...)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	key, replayed := e.remember(w, r)
	if replayed {
		return
	}
	if in.Metadata == nil {
		in.Metadata = map[string]string{}
	}
	if in.Language == nil {
		lang := "en"
		if in.CountryCode != nil && countryLanguage[*in.CountryCode] != "" {
			lang = countryLanguage[*in.CountryCode]
		}
		in.Language = &lang
	}
	c := e.addCustomer(in)
	e.created(key, c.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"customers": c})
}

// validateCustomer applies GoCardless's rules for the fields paysync sends.
func validateCustomer(in *customerFields) []errorDetail {
	var errs []errorDetail
	set := func(p *string) bool { return p != nil && strings.TrimSpace(*p) != "" }
	if !set(in.CompanyName) && (!set(in.GivenName) || !set(in.FamilyName)) {
		for _, f := range []struct {
			name string
			v    *string
		}{{"given_name", in.GivenName}, {"family_name", in.FamilyName}} {
			if !set(f.v) {
				errs = append(errs, errorDetail{Field: f.name, Message: "is required unless company_name is provided"})
			}
		}
	}
	if in.Email != nil {
		local, domain, ok := strings.Cut(*in.Email, "@")
		if !ok || local == "" || !strings.Contains(domain, ".") || strings.ContainsAny(*in.Email, " ,;") {
			errs = append(errs, errorDetail{Field: "email", Message: "is not a valid email address"})
		}
	}
	if in.CountryCode != nil && (len(*in.CountryCode) != 2 || strings.ToUpper(*in.CountryCode) != *in.CountryCode) {
		errs = append(errs, errorDetail{Field: "country_code", Message: "is not a valid ISO 3166-1 alpha-2 code"})
	}
	if in.Language != nil && !slices.Contains(languages, *in.Language) {
		errs = append(errs, errorDetail{Field: "language", Message: "is not a supported language"})
	}
	errs = append(errs, validateMetadata(in.Metadata)...)
	return errs
}

// validateMetadata applies GoCardless's metadata limits: three keys of up
// to 50 characters, values of up to 500.
func validateMetadata(m map[string]string) []errorDetail {
	var errs []errorDetail
	if len(m) > 3 {
		errs = append(errs, errorDetail{Field: "metadata", Message: "must have at most 3 keys"})
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if utf8.RuneCountInString(k) > 50 {
			errs = append(errs, errorDetail{Field: "metadata", Message: fmt.Sprintf("key %q is longer than 50 characters", k)})
		}
		if utf8.RuneCountInString(m[k]) > 500 {
			errs = append(errs, errorDetail{Field: "metadata", Message: fmt.Sprintf("value of %q is longer than 500 characters", k)})
		}
	}
	return errs
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, typeInvalidAPIUsage, "Resource not found",
		errorDetail{Reason: "resource_not_found", Message: "Resource not found"})
}

// writeFound answers a GET of one resource: v under its resource name, or
// 404 when it was not found.
func writeFound(w http.ResponseWriter, resource string, v any, found bool) {
	if !found {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{resource: v})
}

func (e *Emulator) getCustomer(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.pathCustomer(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"customers": c})
	}
}

// removeCustomer is GoCardless's DELETE /customers/{id}: the customer
// disappears from reads and lists, and its mandates are cancelled.
func (e *Emulator) removeCustomer(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.pathCustomer(w, r)
	if !ok {
		return
	}
	c.removed = true
	e.saveCustomer(c)
	e.emit(cancelledEvents(e.cancelMandates(c.ID), "api", descCancelledAPI))
	writeJSON(w, http.StatusOK, map[string]any{"customers": c})
}

func (e *Emulator) listCustomers(w http.ResponseWriter, r *http.Request) {
	p, ok := parsePage(w, r.URL.Query())
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var all []*customer
	for _, c := range e.customers {
		if !c.removed {
			all = append(all, c)
		}
	}
	writePage(w, "customers", all, e.customers, p)
}

func (e *Emulator) getMandate(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.mandates[r.PathValue("id")]
	writeFound(w, "mandates", m, ok)
}

// listMandates supports the customer filter and status as a comma list,
// the filters paysync and the SDKs send.
func (e *Emulator) listMandates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, ok := parsePage(w, q)
	if !ok {
		return
	}
	var statuses []string
	if s := q.Get("status"); s != "" {
		statuses = strings.Split(s, ",")
		for _, st := range statuses {
			if !slices.Contains(mandateStatuses, st) {
				validationError(w, "mandates", errorDetail{Field: "status", Message: fmt.Sprintf("%q is not a mandate status", st)})
				return
			}
		}
	}
	customerID := q.Get("customer")
	e.mu.Lock()
	defer e.mu.Unlock()
	var all []*mandate
	for _, m := range e.mandates {
		if customerID != "" && m.Links.Customer != customerID {
			continue
		}
		if statuses != nil && !slices.Contains(statuses, m.Status) {
			continue
		}
		all = append(all, m)
	}
	writePage(w, "mandates", all, e.mandates, p)
}

// page is a list request's cursor and size.
type page struct {
	after, before string
	limit         int
}

func parsePage(w http.ResponseWriter, q url.Values) (page, bool) {
	p := page{after: q.Get("after"), before: q.Get("before"), limit: 50}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			validationError(w, "meta", errorDetail{Field: "limit", Message: "must be a number between 1 and 500"})
			return p, false
		}
		p.limit = n
	}
	if p.after != "" && p.before != "" {
		writeError(w, http.StatusBadRequest, typeInvalidAPIUsage, "Only one of after and before may be given",
			errorDetail{Reason: "invalid_filters", Message: "Only one of after and before may be given"})
		return p, false
	}
	return p, true
}

// listMeta is GoCardless's meta object: a cursor is null at either end.
type listMeta struct {
	Cursors struct {
		Before *string `json:"before"`
		After  *string `json:"after"`
	} `json:"cursors"`
	Limit int `json:"limit"`
}

// listed is a resource GoCardless lists: its id and creation order.
type listed interface{ idSeq() (string, int) }

func (c *customer) idSeq() (string, int) { return c.ID, c.seq }
func (m *mandate) idSeq() (string, int)  { return m.ID, m.seq }

// writePage answers a list request with the page p of items, under
// resource; cursors are looked up in byID.
func writePage[T listed](w http.ResponseWriter, resource string, items []T, byID map[string]T, p page) {
	out, meta, ok := paginate(w, items, byID, p)
	if ok {
		writeJSON(w, http.StatusOK, map[string]any{resource: out, "meta": meta})
	}
}

// paginate orders items newest first, as GoCardless lists them, and cuts
// the page the cursor asks for. A cursor is the id of a resource in byID,
// listed or not: "after" pages towards older items, "before" towards newer
// ones.
func paginate[T listed](w http.ResponseWriter, items []T, byID map[string]T, p page) ([]T, listMeta, bool) {
	seq := func(t T) int { _, s := t.idSeq(); return s }
	slices.SortFunc(items, func(a, b T) int { return seq(b) - seq(a) })
	cursorIndex := func(id string, older func(s, cursor int) bool) (int, bool) {
		t, ok := byID[id]
		if !ok {
			writeError(w, http.StatusBadRequest, typeInvalidAPIUsage, "Cursor is invalid",
				errorDetail{Reason: "invalid_cursor", Message: "Cursor is invalid"})
			return 0, false
		}
		cursor := seq(t)
		i := slices.IndexFunc(items, func(t T) bool { return older(seq(t), cursor) })
		if i < 0 {
			i = len(items)
		}
		return i, true
	}
	var start, end int
	var ok bool
	switch {
	case p.after != "":
		if start, ok = cursorIndex(p.after, func(s, c int) bool { return s < c }); !ok {
			return nil, listMeta{}, false
		}
		end = min(len(items), start+p.limit)
	case p.before != "":
		if end, ok = cursorIndex(p.before, func(s, c int) bool { return s <= c }); !ok {
			return nil, listMeta{}, false
		}
		start = max(0, end-p.limit)
	default:
		end = min(len(items), p.limit)
	}
	out := append([]T{}, items[start:end]...)
	meta := listMeta{Limit: p.limit}
	if len(out) > 0 {
		if start > 0 {
			id, _ := out[0].idSeq()
			meta.Cursors.Before = &id
		}
		if end < len(items) {
			id, _ := out[len(out)-1].idSeq()
			meta.Cursors.After = &id
		}
	}
	return out, meta, true
}

// addMandate creates a mandate for c; scheme "" picks the one GoCardless
// would for the customer's country. Call with e.mu held.
func (e *Emulator) addMandate(c *customer, scheme, status string) *mandate {
	if scheme == "" {
		scheme = "sepa_core"
		if c.CountryCode != nil {
			switch *c.CountryCode {
			case "GB":
				scheme = "bacs"
			case "US":
				scheme = "ach"
			}
		}
	}
	charge := time.Now().UTC().AddDate(0, 0, 4).Format("2006-01-02")
	e.seq++
	m := &mandate{
		ID:                     e.uniqueID("MD"),
		CreatedAt:              timestamp(time.Now()),
		Reference:              "EMU-" + newID("")[:8],
		Status:                 status,
		Scheme:                 scheme,
		NextPossibleChargeDate: &charge,
		AuthorisationSource:    "web",
		FundsSettlement:        "managed",
		Metadata:               map[string]string{},
		Links:                  mandateLinks{Creditor: e.creditorID, Customer: c.ID, CustomerBankAccount: newID("BA")},
		seq:                    e.seq,
	}
	e.mandates[m.ID] = m
	e.saveMandate(m)
	return m
}

// cancelMandates cancels the customer's live mandates and returns them,
// oldest first. Call with e.mu held.
func (e *Emulator) cancelMandates(customerID string) []*mandate {
	var cancelled []*mandate
	for _, m := range e.mandates {
		if m.Links.Customer != customerID {
			continue
		}
		switch m.Status {
		case "failed", "cancelled", "expired", "consumed":
		default:
			m.Status = "cancelled"
			e.saveMandate(m)
			cancelled = append(cancelled, m)
		}
	}
	slices.SortFunc(cancelled, func(a, b *mandate) int { return a.seq - b.seq })
	return cancelled
}

// uniqueID returns a fresh id with prefix. Call with e.mu held.
func (e *Emulator) uniqueID(prefix string) string {
	for {
		id := newID(prefix)
		_, c := e.customers[id]
		_, m := e.mandates[id]
		_, b := e.billingRequests[id]
		_, f := e.flows[id]
		if !c && !m && !b && !f {
			return id
		}
	}
}

type billingRequestInput struct {
	MandateRequest *struct {
		Currency    *string           `json:"currency"`
		Scheme      *string           `json:"scheme"`
		Verify      *string           `json:"verify"`
		Description *string           `json:"description"`
		Metadata    map[string]string `json:"metadata"`
	} `json:"mandate_request"`
	Metadata        map[string]string `json:"metadata"`
	FallbackEnabled bool              `json:"fallback_enabled"`
	Links           *struct {
		Customer            *string `json:"customer"`
		Creditor            *string `json:"creditor"`
		CustomerBankAccount *string `json:"customer_bank_account"`
	} `json:"links"`
}

// createBillingRequest supports mandate-only billing requests, the kind
// that sets up a payment method.
func (e *Emulator) createBillingRequest(w http.ResponseWriter, r *http.Request) {
	var in billingRequestInput
	if !decode(w, r, "billing_requests", &in) {
		return
	}
	if in.MandateRequest == nil {
		validationError(w, "billing_requests", errorDetail{Field: "mandate_request", Message: "is required (the emulator supports mandate requests only)"})
		return
	}
	mr := in.MandateRequest
	if mr.Scheme != nil && !slices.Contains(schemes, *mr.Scheme) {
		validationError(w, "billing_requests", errorDetail{Field: "mandate_request.scheme", Message: "is not a supported scheme"})
		return
	}
	if mr.Currency != nil && (len(*mr.Currency) != 3 || strings.ToUpper(*mr.Currency) != *mr.Currency) {
		validationError(w, "billing_requests", errorDetail{Field: "mandate_request.currency", Message: "is not a valid ISO 4217 code"})
		return
	}
	if errs := validateMetadata(in.Metadata); len(errs) > 0 {
		validationError(w, "billing_requests", errs...)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	links := map[string]string{"creditor": e.creditorID}
	if in.Links != nil && in.Links.Creditor != nil && *in.Links.Creditor != e.creditorID {
		validationError(w, "billing_requests", errorDetail{Field: "links.creditor", Message: "was not found"})
		return
	}
	if in.Links != nil && in.Links.Customer != nil {
		c, ok := e.liveCustomer(*in.Links.Customer)
		if !ok {
			validationError(w, "billing_requests", errorDetail{Field: "links.customer", Message: "was not found"})
			return
		}
		links["customer"] = c.ID
	}
	key, replayed := e.remember(w, r)
	if replayed {
		return
	}
	if links["customer"] == "" {
		// GoCardless creates an empty customer to collect details into.
		links["customer"] = e.addCustomer(customerFields{Metadata: map[string]string{}}).ID
	}
	links["mandate_request"] = newID("MRQ")
	links["customer_billing_detail"] = newID("CBD")
	if in.Metadata == nil {
		in.Metadata = map[string]string{}
	}
	if mr.Metadata == nil {
		mr.Metadata = map[string]string{}
	}
	verify := "recommended"
	if mr.Verify != nil {
		verify = *mr.Verify
	}
	br := &billingRequest{
		ID:              e.uniqueID("BRQ"),
		CreatedAt:       timestamp(time.Now()),
		Status:          "pending",
		MandateRequest:  &mandateRequest{Currency: mr.Currency, Scheme: mr.Scheme, Verify: verify, Metadata: mr.Metadata, Links: map[string]string{}},
		Metadata:        in.Metadata,
		FallbackEnabled: in.FallbackEnabled,
		Actions: []billingRequestAction{
			{Type: "choose_currency", Required: true, CompletesActions: []string{}, RequiresActions: []string{}, Status: "completed"},
			{Type: "collect_customer_details", Required: true, CompletesActions: []string{}, RequiresActions: []string{"choose_currency"}, Status: "pending"},
			{Type: "collect_bank_account", Required: true, CompletesActions: []string{"choose_currency"}, RequiresActions: []string{}, Status: "pending"},
			{Type: "confirm_payer_details", Required: true, CompletesActions: []string{}, RequiresActions: []string{"collect_customer_details", "collect_bank_account"}, Status: "pending"},
		},
		Links: links,
	}
	e.billingRequests[br.ID] = br
	e.saveBillingRequest(br)
	e.created(key, br.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"billing_requests": br})
}

func (e *Emulator) getBillingRequest(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	br, ok := e.billingRequests[r.PathValue("id")]
	writeFound(w, "billing_requests", br, ok)
}

type flowInput struct {
	RedirectURI               *string          `json:"redirect_uri"`
	ExitURI                   *string          `json:"exit_uri"`
	Language                  *string          `json:"language"`
	AutoFulfil                *bool            `json:"auto_fulfil"`
	CustomerDetailsCaptured   *bool            `json:"customer_details_captured"`
	LockBankAccount           *bool            `json:"lock_bank_account"`
	LockCurrency              *bool            `json:"lock_currency"`
	LockCustomerDetails       *bool            `json:"lock_customer_details"`
	ShowRedirectButtons       *bool            `json:"show_redirect_buttons"`
	ShowSuccessRedirectButton *bool            `json:"show_success_redirect_button"`
	SkipSuccessScreen         *bool            `json:"skip_success_screen"`
	PrefilledCustomer         *json.RawMessage `json:"prefilled_customer"`
	PrefilledBankAccount      *json.RawMessage `json:"prefilled_bank_account"`
	Links                     *struct {
		BillingRequest string `json:"billing_request"`
	} `json:"links"`
}

// createFlow creates a billing request flow whose authorisation_url is the
// emulator's own payer page. Flows are not deduplicated by idempotency key:
// each call gives a fresh flow, as the GoCardless sandbox does.
func (e *Emulator) createFlow(w http.ResponseWriter, r *http.Request) {
	var in flowInput
	if !decode(w, r, "billing_request_flows", &in) {
		return
	}
	if in.Links == nil || in.Links.BillingRequest == "" {
		validationError(w, "billing_request_flows", errorDetail{Field: "links.billing_request", Message: "is required"})
		return
	}
	for _, u := range []struct {
		field string
		v     *string
	}{{"redirect_uri", in.RedirectURI}, {"exit_uri", in.ExitURI}} {
		if u.v == nil {
			continue
		}
		parsed, err := url.Parse(*u.v)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			validationError(w, "billing_request_flows", errorDetail{Field: u.field, Message: "must be an absolute http(s) URL"})
			return
		}
	}
	if in.Language != nil && !slices.Contains(languages, *in.Language) {
		validationError(w, "billing_request_flows", errorDetail{Field: "language", Message: "is not a supported language"})
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	br, ok := e.billingRequests[in.Links.BillingRequest]
	if !ok {
		validationError(w, "billing_request_flows", errorDetail{Field: "links.billing_request", Message: "was not found"})
		return
	}
	if br.Status != "pending" {
		writeError(w, http.StatusUnprocessableEntity, typeInvalidState, "Billing request is not pending",
			errorDetail{Reason: "billing_request_not_pending", Message: "Billing request is not pending"})
		return
	}
	flag := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	now := time.Now()
	f := &flow{
		ID:                        e.uniqueID("BRF"),
		CreatedAt:                 timestamp(now),
		ExpiresAt:                 timestamp(now.Add(7 * 24 * time.Hour)),
		RedirectURI:               in.RedirectURI,
		ExitURI:                   in.ExitURI,
		Language:                  in.Language,
		AutoFulfil:                flag(in.AutoFulfil, true),
		CustomerDetailsCaptured:   flag(in.CustomerDetailsCaptured, false),
		LockBankAccount:           flag(in.LockBankAccount, false),
		LockCurrency:              flag(in.LockCurrency, false),
		LockCustomerDetails:       flag(in.LockCustomerDetails, false),
		ShowRedirectButtons:       flag(in.ShowRedirectButtons, false),
		ShowSuccessRedirectButton: flag(in.ShowSuccessRedirectButton, false),
		SkipSuccessScreen:         flag(in.SkipSuccessScreen, false),
		expires:                   now.Add(7 * 24 * time.Hour),
	}
	f.Links.BillingRequest = br.ID
	f.AuthorisationURL = e.publicURL(r) + "/_sandbox/billing_request_flows/" + f.ID
	e.flows[f.ID] = f
	e.saveFlow(f)
	writeJSON(w, http.StatusCreated, map[string]any{"billing_request_flows": f})
}

// publicURL is the emulator's base URL as a browser sees it: PublicURL,
// else the request's own scheme and host. In-process requests (no Host)
// still carry them in their URL.
func (e *Emulator) publicURL(r *http.Request) string {
	if e.PublicURL != "" {
		return strings.TrimRight(e.PublicURL, "/")
	}
	scheme, host := r.URL.Scheme, r.Host
	if host == "" {
		host = r.URL.Host
	}
	switch {
	case r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https":
		scheme = "https"
	case scheme == "":
		scheme = "http"
	}
	return scheme + "://" + host
}
