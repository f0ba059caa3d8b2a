// Package braintreeemu emulates the part of Braintree's XML gateway API that
// paysync and the official SDKs use for customers and vaulted payment
// methods: in memory, for sandbox connections and tests.
//
// Routes (under /merchants/{merchant_id}, basic auth public:private key):
//
//	POST   /customers                  create (XML from braintree-go, JSON from the Node SDK);
//	                                   payment methods are vaulted through /payment_methods only
//	GET    /customers/{id}             find
//	PUT    /customers/{id}             update
//	DELETE /customers/{id}             delete
//	POST   /customers/advanced_search_ids  search by created_at and ids (search.go)
//	POST   /customers/advanced_search      the customers of one page of ids
//	POST   /payment_methods            vault a fake nonce ("fake-valid-nonce", ...)
//	GET    /payment_methods/any/{token}
//	DELETE /payment_methods/any/{token}
//
// Control routes, outside the gateway and without auth:
//
//	GET|PUT|POST|DELETE /_faults                     the fault plan (fault.Settings as JSON)
//	POST   /_sandbox/customers/{id}/payment_methods  vault a card, answers {"token": ...}
//	DELETE /_sandbox/customers/{id}/payment_methods  remove every payment method
//	GET|POST /_sandbox/vault/{id}                    a form that vaults a card (vault.go)
//	POST   /_sandbox/seed                            create N numbered customers (package seed)
//
// After SendWebhooks, the emulator also POSTs signed webhook notifications
// as Braintree does: payment_method_revoked_by_customer for each payment
// method revoked, payment_method_customer_data_updated for each one vaulted
// (see KindCustomerDataUpdated for why that kind).
package braintreeemu

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/state"
	"github.com/paysync/paysync/sandbox/webhooksend"
)

// The only credentials the emulator accepts.
const (
	MerchantID = "paysync_sandbox"
	PublicKey  = "sandbox_public_key"
	PrivateKey = "sandbox_private_key"
)

// minAPIVersion is the oldest X-ApiVersion answered; braintree-go sends 3
// or 4, the Node SDK 6. Older or missing versions get 426 as Braintree
// answers clients it no longer supports.
const minAPIVersion = 3

// errNotFound reports an unknown customer or payment method.
var errNotFound = errors.New("braintreeemu: not found")

// Emulator is an in-memory Braintree gateway. It is safe for concurrent use.
type Emulator struct {
	// Faults injects failures in front of the gateway routes.
	Faults *fault.Injector

	mu        sync.Mutex
	customers map[string]*customer
	// state, when set, keeps every customer across restarts (persist.go).
	state *state.Store
	// owners maps a payment method token to its customer.
	owners map[string]*customer

	handler http.Handler

	hooks *webhooksend.Sender[string]
}

type customer struct {
	id        string
	firstName string
	lastName  string
	company   string
	email     string
	phone     string
	fax       string
	website   string
	createdAt time.Time
	updatedAt time.Time
	methods   []*paymentMethod
}

// paymentMethod is a vaulted credit card or PayPal account.
type paymentMethod struct {
	kind       string // element name: credit-card | paypal-account
	token      string
	isDefault  bool
	createdAt  time.Time
	updatedAt  time.Time
	cardType   string
	bin        string
	last4      string
	expMonth   string
	expYear    string
	imageURL   string
	payerEmail string
	// revokedAt is set on a payment method revoked by its customer, for
	// the notification announcing it.
	revokedAt time.Time
}

// New returns an empty emulator.
func New() *Emulator {
	e := &Emulator{
		customers: map[string]*customer{},
		owners:    map[string]*customer{},
		hooks:     webhooksend.New[string](webhookPolicy),
	}
	e.Faults = fault.New(writeFault, nil)

	gw := http.NewServeMux()
	gw.HandleFunc("POST /merchants/{mid}/customers", e.createCustomer)
	gw.HandleFunc("POST /merchants/{mid}/customers/advanced_search_ids", e.searchIDs)
	gw.HandleFunc("POST /merchants/{mid}/customers/advanced_search", e.searchCustomers)
	gw.HandleFunc("GET /merchants/{mid}/customers/{id}", e.findCustomer)
	gw.HandleFunc("PUT /merchants/{mid}/customers/{id}", e.updateCustomer)
	gw.HandleFunc("DELETE /merchants/{mid}/customers/{id}", e.deleteCustomer)
	gw.HandleFunc("POST /merchants/{mid}/payment_methods", e.createPaymentMethod)
	gw.HandleFunc("GET /merchants/{mid}/payment_methods/any/{token}", e.findPaymentMethod)
	gw.HandleFunc("DELETE /merchants/{mid}/payment_methods/any/{token}", e.deletePaymentMethod)
	gw.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeEmpty(w, http.StatusNotFound) })

	mux := http.NewServeMux()
	mux.Handle("/merchants/", e.Faults.Wrap(authenticate(gw)))
	mux.Handle("/_faults", e.Faults.Handler())
	mux.HandleFunc("POST /_sandbox/seed", e.sandboxSeed)
	mux.HandleFunc("POST /_sandbox/customers/{id}/payment_methods", e.sandboxAttach)
	mux.HandleFunc("DELETE /_sandbox/customers/{id}/payment_methods", e.sandboxRevoke)
	mux.HandleFunc("GET /_sandbox/vault/{id}", e.vaultForm)
	mux.HandleFunc("POST /_sandbox/vault/{id}", e.vaultSubmit)
	e.handler = mux
	return e
}

func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.handler.ServeHTTP(w, r) }

// CustomerCount counts the stored customers.
func (e *Emulator) CustomerCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.customers)
}

// AttachPaymentMethod vaults a Visa card for the customer, as a customer
// completing a Drop-in would, and returns its token.
func (e *Emulator) AttachPaymentMethod(customerID string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.customer(customerID)
	if err != nil {
		return "", err
	}
	pm, _ := nonceMethod("fake-valid-nonce")
	e.vault(c, pm, false)
	return pm.token, nil
}

// RevokePaymentMethods removes every payment method of the customer, as a
// customer revoking them would.
func (e *Emulator) RevokePaymentMethods(customerID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.customer(customerID)
	if err != nil {
		return err
	}
	t := now()
	for _, pm := range c.methods {
		delete(e.owners, pm.token)
		e.notifyRevoked(c, pm, t)
	}
	c.methods = nil
	c.updatedAt = t
	e.saveCustomer(c)
	return nil
}

// customer is the customer id names, or an error wrapping errNotFound.
// e.mu is held.
func (e *Emulator) customer(id string) (*customer, error) {
	c, ok := e.customers[id]
	if !ok {
		return nil, fmt.Errorf("%w: customer %q", errNotFound, id)
	}
	return c, nil
}

// pathCustomer is the customer the request's {id} names; for an unknown
// one it answers 404. e.mu is held.
func (e *Emulator) pathCustomer(w http.ResponseWriter, r *http.Request) (*customer, bool) {
	c, ok := e.customers[r.PathValue("id")]
	if !ok {
		writeEmpty(w, http.StatusNotFound)
	}
	return c, ok
}

// pathOwner is the token the request's {token} names and the customer
// owning it; for an unknown token it answers 404. e.mu is held.
func (e *Emulator) pathOwner(w http.ResponseWriter, r *http.Request) (string, *customer, bool) {
	token := r.PathValue("token")
	c, ok := e.owners[token]
	if !ok {
		writeEmpty(w, http.StatusNotFound)
	}
	return token, c, ok
}

// checkCustomer validates a customer request, with the id it names unless
// that is keep (the customer's current id); it answers the validation
// errors and reports false when there are any. e.mu is held.
func (e *Emulator) checkCustomer(w http.ResponseWriter, r *http.Request, in *customerParams, keep string) bool {
	var errs []validationError
	if id := in.ID.v; id != "" && id != keep {
		errs = append(errs, e.checkID(id)...)
	}
	errs = append(errs, in.check()...)
	if len(errs) > 0 {
		writeValidation(w, r, "customer", errs, in.params())
		return false
	}
	return true
}

// authenticate answers as Braintree does before any route: 401 for unknown
// keys, 403 for keys that do not belong to the merchant in the path, 426
// for an API version it no longer serves.
func authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pub, priv, ok := r.BasicAuth()
		if !ok || pub != PublicKey || priv != PrivateKey {
			writeEmpty(w, http.StatusUnauthorized)
			return
		}
		mid, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/merchants/"), "/")
		if mid != MerchantID {
			writeEmpty(w, http.StatusForbidden)
			return
		}
		if v, err := strconv.Atoi(r.Header.Get("X-ApiVersion")); err != nil || v < minAPIVersion {
			writeEmpty(w, http.StatusUpgradeRequired)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (e *Emulator) createCustomer(w http.ResponseWriter, r *http.Request) {
	var in customerParams
	if !decode(w, r, "customer", &in) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.checkCustomer(w, r, &in, "") {
		return
	}
	id := in.ID.v
	if id == "" {
		id = e.newCustomerID()
	}
	t := now()
	c := &customer{id: id, createdAt: t, updatedAt: t}
	in.apply(c)
	e.customers[id] = c
	e.saveCustomer(c)
	writeXML(w, r, http.StatusCreated, func(x *xmlWriter) { x.customer(c) })
}

func (e *Emulator) findCustomer(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.pathCustomer(w, r); ok {
		writeXML(w, r, http.StatusOK, func(x *xmlWriter) { x.customer(c) })
	}
}

func (e *Emulator) updateCustomer(w http.ResponseWriter, r *http.Request) {
	var in customerParams
	if !decode(w, r, "customer", &in) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.pathCustomer(w, r)
	if !ok || !e.checkCustomer(w, r, &in, c.id) {
		return
	}
	// A new id in the body renames the customer, as Braintree allows.
	if newID := in.ID.v; newID != "" && newID != c.id {
		delete(e.customers, c.id)
		e.forgetCustomer(c.id)
		c.id = newID
		e.customers[newID] = c
	}
	in.apply(c)
	c.updatedAt = now()
	e.saveCustomer(c)
	writeXML(w, r, http.StatusOK, func(x *xmlWriter) { x.customer(c) })
}

func (e *Emulator) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.pathCustomer(w, r)
	if !ok {
		return
	}
	for _, pm := range c.methods {
		delete(e.owners, pm.token)
	}
	delete(e.customers, c.id)
	e.forgetCustomer(c.id)
	writeEmpty(w, http.StatusOK)
}

func (e *Emulator) createPaymentMethod(w http.ResponseWriter, r *http.Request) {
	var in paymentMethodParams
	if !decode(w, r, "payment-method", &in) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []validationError
	c, ok := e.customers[in.CustomerID]
	switch {
	case in.CustomerID == "":
		errs = append(errs, validationError{"93104", "customer_id", "Customer ID is required."})
	case !ok:
		errs = append(errs, validationError{"93105", "customer_id", "Customer ID is invalid."})
	}
	var pm *paymentMethod
	if in.Nonce == "" {
		errs = append(errs, validationError{"93103", "payment_method_nonce", "A payment method nonce must be provided."})
	} else {
		var err *validationError
		if pm, err = nonceMethod(in.Nonce); err != nil {
			errs = append(errs, *err)
		}
	}
	if len(errs) > 0 {
		writeValidation(w, r, "payment-method", errs, in.params())
		return
	}
	e.vault(c, pm, in.Options.MakeDefault)
	writeXML(w, r, http.StatusCreated, func(x *xmlWriter) { x.paymentMethod(c.id, pm) })
}

func (e *Emulator) findPaymentMethod(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	token, c, ok := e.pathOwner(w, r)
	if !ok {
		return
	}
	for _, pm := range c.methods {
		if pm.token == token {
			writeXML(w, r, http.StatusOK, func(x *xmlWriter) { x.paymentMethod(c.id, pm) })
			return
		}
	}
	writeEmpty(w, http.StatusNotFound)
}

func (e *Emulator) deletePaymentMethod(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	token, c, ok := e.pathOwner(w, r)
	if !ok {
		return
	}
	delete(e.owners, token)
	kept := c.methods[:0]
	var wasDefault bool
	for _, pm := range c.methods {
		if pm.token == token {
			wasDefault = pm.isDefault
			continue
		}
		kept = append(kept, pm)
	}
	c.methods = kept
	// Braintree promotes another payment method when the default goes.
	if wasDefault && len(kept) > 0 {
		kept[0].isDefault = true
	}
	c.updatedAt = now()
	e.saveCustomer(c)
	writeEmpty(w, http.StatusOK)
}

func (e *Emulator) sandboxAttach(w http.ResponseWriter, r *http.Request) {
	token, err := e.AttachPaymentMethod(r.PathValue("id"))
	if errors.Is(err, errNotFound) {
		http.Error(w, "customer not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
}

func (e *Emulator) sandboxRevoke(w http.ResponseWriter, r *http.Request) {
	if err := e.RevokePaymentMethods(r.PathValue("id")); errors.Is(err, errNotFound) {
		http.Error(w, "customer not found", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkID validates a customer id chosen by the client. e.mu is held.
func (e *Emulator) checkID(id string) []validationError {
	switch {
	case len(id) > 36:
		return []validationError{{"91612", "id", "Customer ID is too long."}}
	case !validID(id):
		return []validationError{{"91610", "id", `Customer ID is invalid (use only letters, numbers, "-", and "_").`}}
	case id == "all" || id == "new":
		return []validationError{{"91611", "id", "Customer ID is not an allowed ID."}}
	}
	if _, taken := e.customers[id]; taken {
		return []validationError{{"91609", "id", "Customer ID has already been taken."}}
	}
	return nil
}

func validID(id string) bool {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// vault stores pm for c; the first payment method becomes the default.
// e.mu is held.
func (e *Emulator) vault(c *customer, pm *paymentMethod, makeDefault bool) {
	for pm.token == "" || e.owners[pm.token] != nil {
		pm.token = randomString(lowerAlnum, 7)
	}
	if makeDefault || len(c.methods) == 0 {
		for _, other := range c.methods {
			other.isDefault = false
		}
		pm.isDefault = true
	}
	t := now()
	pm.createdAt, pm.updatedAt = t, t
	c.methods = append(c.methods, pm)
	c.updatedAt = t
	e.owners[pm.token] = c
	e.saveCustomer(c)
	e.notifyVaulted(c, pm, t)
}

// newCustomerID picks an unused id the way Braintree does: 8 digits. e.mu is held.
func (e *Emulator) newCustomerID() string {
	for {
		id := randomString("0123456789", 8)
		if _, taken := e.customers[id]; !taken && id[0] != '0' {
			return id
		}
	}
}

// nonceMethod turns one of Braintree's documented fake nonces into the
// payment method the sandbox vaults for it.
func nonceMethod(nonce string) (*paymentMethod, *validationError) {
	card := func(cardType, bin, last4, logo string) *paymentMethod {
		return &paymentMethod{
			kind: "credit-card", cardType: cardType, bin: bin, last4: last4,
			expMonth: "12", expYear: strconv.Itoa(now().Year() + 3),
			imageURL: "https://assets.braintreegateway.com/payment_method_logo/" + logo + ".png?environment=sandbox",
		}
	}
	switch nonce {
	case "fake-valid-nonce", "fake-valid-visa-nonce":
		return card("Visa", "401288", "1881", "visa"), nil
	case "fake-valid-mastercard-nonce":
		return card("MasterCard", "555555", "4444", "mastercard"), nil
	case "fake-valid-amex-nonce":
		return card("American Express", "378282", "0005", "american_express"), nil
	case "fake-valid-discover-nonce":
		return card("Discover", "601111", "1117", "discover"), nil
	case "fake-paypal-future-nonce", "fake-paypal-billing-agreement-nonce":
		return &paymentMethod{
			kind: "paypal-account", payerEmail: "payer@example.com",
			imageURL: "https://assets.braintreegateway.com/payment_method_logo/paypal.png?environment=sandbox",
		}, nil
	case "fake-consumed-nonce":
		return nil, &validationError{"93107", "payment_method_nonce", "Cannot use a payment_method_nonce more than once."}
	}
	return nil, &validationError{"93108", "payment_method_nonce", "Unknown payment_method_nonce."}
}

const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	size := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, size)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// now is the gateway clock, in whole seconds as Braintree's XML carries it.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }
