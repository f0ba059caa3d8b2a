// Package stripeemu emulates the part of Stripe's API that paysync and
// Stripe's own SDKs use for customers: create, read, update, delete, list
// and search customers, list their payment methods, and Checkout Sessions
// in setup mode, with Stripe's wire format, errors, authentication and
// idempotency keys. It serves sandbox mode and tests; state lives in memory.
//
// Besides the API under /v1 it serves
//
//	/_faults                                  the fault plan (see package fault)
//	POST|DELETE /_sandbox/customers/{id}/payment_methods
//	                                          attach a test card / detach all
//	POST /_sandbox/seed                       create N numbered customers (package seed)
//	GET|POST /checkout/{session}              the hosted page of a setup session
//
// Once SendWebhooks names an endpoint, it also sends Stripe's signed events
// when payment methods are attached or detached, a setup session is
// completed, and a customer is updated or deleted (see webhooks.go).
package stripeemu

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/state"
	"github.com/paysync/paysync/sandbox/webhooksend"
)

// idempotencyTTL is how long Stripe remembers an idempotency key.
const idempotencyTTL = 24 * time.Hour

// Emulator is an in-memory Stripe. It is an http.Handler, safe for
// concurrent use.
type Emulator struct {
	// Faults is put in front of the /v1 API; its plan is served at /_faults.
	Faults *fault.Injector

	mu        sync.Mutex
	offset    time.Duration // added to the wall clock, see Advance
	customers map[string]*Customer
	created   []string       // customer ids, oldest first
	place     map[string]int // customer id -> its index in created
	methods   map[string]*paymentMethod
	byOwner   map[string][]string // customer id -> payment method ids, oldest first
	sessions  map[string]*session
	replays   map[string]*replay
	// state, when set, keeps every object across restarts (persist.go);
	// seqs ranks its customers and payment methods by creation.
	state *state.Store
	seqs  map[string]int
	hooks *webhooksend.Sender[struct{}]
	// failAfterRun is how many more API requests answer 500 after their
	// handler ran, see FailNextAfterRun.
	failAfterRun int

	mux *http.ServeMux
}

// replay is the first response to an idempotent request.
type replay struct {
	method, path, params string
	at                   time.Time
	status               int
	body                 []byte
}

// New returns an empty emulator.
func New() *Emulator {
	e := &Emulator{
		Faults:    fault.New(writeFault, nil),
		customers: map[string]*Customer{},
		place:     map[string]int{},
		methods:   map[string]*paymentMethod{},
		byOwner:   map[string][]string{},
		sessions:  map[string]*session{},
		replays:   map[string]*replay{},
		hooks:     webhooksend.New[struct{}](webhookPolicy),
	}
	e.routes()
	return e
}

func (e *Emulator) routes() {
	api := http.NewServeMux()
	api.Handle("POST /v1/customers", e.call(e.createCustomer))
	api.Handle("GET /v1/customers", e.call(e.listCustomers))
	api.Handle("GET /v1/customers/search", e.call(e.searchCustomers))
	api.Handle("GET /v1/customers/{id}", e.call(e.getCustomer))
	api.Handle("POST /v1/customers/{id}", e.call(e.updateCustomer))
	api.Handle("DELETE /v1/customers/{id}", e.call(e.deleteCustomer))
	api.Handle("GET /v1/customers/{id}/payment_methods", e.call(e.listPaymentMethods))
	api.Handle("POST /v1/checkout/sessions", e.call(e.createSession))
	api.Handle("GET /v1/checkout/sessions/{id}", e.call(e.getSession))
	api.Handle("/", e.call(unrecognized))

	mux := http.NewServeMux()
	// The fault plan is read per request so that tests may replace Faults.
	mux.Handle("/v1/", authenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.Faults.Wrap(api).ServeHTTP(w, r)
	})))
	mux.Handle("/_faults", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.Faults.Handler().ServeHTTP(w, r)
	}))
	mux.Handle("POST /_sandbox/customers/{id}/payment_methods", authenticated(http.HandlerFunc(e.sandboxAttach)))
	mux.Handle("DELETE /_sandbox/customers/{id}/payment_methods", authenticated(http.HandlerFunc(e.sandboxDetach)))
	mux.Handle("POST /_sandbox/seed", authenticated(http.HandlerFunc(e.sandboxSeed)))
	mux.HandleFunc("GET /checkout/{id}", e.checkoutPage)
	mux.HandleFunc("POST /checkout/{id}", e.checkoutComplete)
	mux.Handle("/", e.call(unrecognized))
	e.mux = mux
}

// ServeHTTP serves the emulated API.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.mux.ServeHTTP(w, r) }

// Advance moves the emulator's clock forward, e.g. past the 24 hours after
// which Stripe forgets idempotency keys.
func (e *Emulator) Advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.offset += d
}

func (e *Emulator) now() time.Time { return time.Now().Add(e.offset) }

// request is one API call as a handler sees it; handlers run under e.mu.
type request struct {
	*http.Request
	form url.Values
	id   string // the Request-Id answered
}

// handler answers a request with a status and a JSON body, or an error.
type handler func(r *request) (status int, body any, err *apiError)

// call runs h under the lock, renders its answer, and implements
// Idempotency-Key for POST: a replay answers the first response with
// Idempotent-Replayed: true; the same key with another request is an
// idempotency_error. As at Stripe, a result is saved once the request began
// executing, a 5xx included; a request that failed validation saves none,
// nor does a fault injected in front of the handler.
func (e *Emulator) call(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := newID("req_", 14)
		w.Header().Set("Request-Id", reqID)
		if err := r.ParseForm(); err != nil {
			writeError(w, invalid("", "Invalid request body: %v", err))
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()

		key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
		if r.Method != http.MethodPost {
			key = ""
		}
		if key != "" {
			key = apiKey(r) + "\x00" + key
			if rp, ok := e.replays[key]; ok && e.now().Sub(rp.at) < idempotencyTTL {
				if rp.method != r.Method || rp.path != r.URL.Path {
					writeError(w, &apiError{status: http.StatusBadRequest, typ: "idempotency_error",
						message: "Keys for idempotent requests can only be used for the same endpoint they were first used for ('" +
							rp.path + "' vs '" + r.URL.Path + "'). Try using a key other than the one you used if you meant to execute a different request."})
					return
				}
				if rp.params != r.Form.Encode() {
					writeError(w, &apiError{status: http.StatusBadRequest, typ: "idempotency_error",
						message: "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than the one you used if you meant to execute a different request."})
					return
				}
				w.Header().Set("Idempotency-Key", r.Header.Get("Idempotency-Key"))
				w.Header().Set("Idempotent-Replayed", "true")
				writeRaw(w, rp.status, rp.body)
				return
			}
		}

		status, body, apiErr := h(&request{Request: r, form: r.Form, id: reqID})
		if e.failAfterRun > 0 {
			// What the handler did stands; only its answer is lost.
			e.failAfterRun--
			apiErr = serverError(unknownError)
		}
		var raw []byte
		if apiErr == nil {
			var err error
			if raw, err = json.MarshalIndent(body, "", "  "); err != nil {
				apiErr = serverError(err.Error())
			}
		}
		if apiErr != nil {
			if apiErr.status < http.StatusInternalServerError {
				writeError(w, apiErr)
				return
			}
			status = apiErr.status
			raw, _ = json.MarshalIndent(apiErr.wire(), "", "  ")
		}
		if key != "" {
			e.replays[key] = &replay{method: r.Method, path: r.URL.Path, params: r.Form.Encode(), at: e.now(), status: status, body: raw}
			e.saveReplay(key, e.replays[key])
			w.Header().Set("Idempotency-Key", r.Header.Get("Idempotency-Key"))
		}
		writeRaw(w, status, raw)
	})
}

// serverError is the 500 api_error of a request that failed while executing.
func serverError(msg string) *apiError {
	return &apiError{status: http.StatusInternalServerError, typ: "api_error", message: msg}
}

// FailNextAfterRun makes the next n API requests that reach their handler
// run it and then answer 500 api_error: Stripe's "it may or may not have
// happened" case, which a fault in front of the handler cannot model. Like
// Stripe, a POST with an Idempotency-Key saves that 500 and replays it.
func (e *Emulator) FailNextAfterRun(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failAfterRun = n
}

func unrecognized(r *request) (int, any, *apiError) {
	return 0, nil, &apiError{status: http.StatusNotFound, typ: "invalid_request_error",
		message: "Unrecognized request URL (" + r.Method + ": " + r.URL.Path + "). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."}
}

// authenticated accepts what a test-mode Stripe account accepts: a secret
// or restricted test key, as a Bearer token or as the basic-auth user.
func authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := apiKey(r)
		var e *apiError
		switch {
		case key == "":
			e = &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error",
				message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."}
		case !strings.HasPrefix(key, "sk_test_") && !strings.HasPrefix(key, "rk_test_"):
			e = &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "api_key_invalid",
				message: "Invalid API Key provided: " + mask(key)}
		}
		if e != nil {
			w.Header().Set("Request-Id", newID("req_", 14))
			writeError(w, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func apiKey(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok {
		return user
	}
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// mask hides a key but its last four characters, as Stripe does.
func mask(key string) string {
	if len(key) <= 4 {
		return strings.Repeat("*", len(key))
	}
	return strings.Repeat("*", len(key)-4) + key[len(key)-4:]
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.status, e.wire()) }

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, raw)
}

func writeRaw(w http.ResponseWriter, status int, raw []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Stripe-Version", APIVersion)
	w.WriteHeader(status)
	_, _ = w.Write(append(bytes.Clone(raw), '\n'))
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns prefix followed by n random base-62 characters.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}

// AttachPaymentMethod attaches a new test card to the customer and makes it
// the invoice default, as completing a setup session would. It returns the
// payment method id. With webhooks on, it sends payment_method.attached
// and customer.updated.
func (e *Emulator) AttachPaymentMethod(customerID string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pm, err := e.attachNotify(customerID, eventRequest{})
	if err != nil {
		return "", err
	}
	return pm.id, nil
}

// ErrNoCustomer is returned by the helpers for an unknown or deleted customer.
var ErrNoCustomer = errors.New("stripeemu: no such customer")

// live is the customer id names, unless it is unknown or deleted. e.mu is
// held.
func (e *Emulator) live(id string) (*Customer, bool) {
	c, ok := e.customers[id]
	return c, ok && !c.Deleted
}

func (e *Emulator) attach(customerID string) (*paymentMethod, error) {
	c, ok := e.live(customerID)
	if !ok {
		return nil, ErrNoCustomer
	}
	now := e.now()
	pm := &paymentMethod{id: newID("pm_", 24), customer: customerID, created: now.Unix(), expYear: now.Year() + 3}
	e.methods[pm.id] = pm
	e.byOwner[customerID] = append(e.byOwner[customerID], pm.id)
	c.DefaultPaymentMethod = pm.id
	e.saveMethod(pm)
	e.saveCustomer(c)
	return pm, nil
}

// DetachPaymentMethods detaches every payment method of the customer and
// clears its defaults. With webhooks on, it sends payment_method.detached
// for each and customer.updated.
func (e *Emulator) DetachPaymentMethods(customerID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.detachNotify(customerID, eventRequest{})
	return err
}

func (e *Emulator) detach(customerID string) (int, error) {
	c, ok := e.live(customerID)
	if !ok {
		return 0, ErrNoCustomer
	}
	ids := e.byOwner[customerID]
	for _, id := range ids {
		e.methods[id].customer = ""
		e.saveMethod(e.methods[id])
	}
	delete(e.byOwner, customerID)
	c.DefaultPaymentMethod = ""
	c.DefaultSource = ""
	e.saveCustomer(c)
	return len(ids), nil
}

// CustomerCount counts the customers created so far, deleted ones
// included, so that a test can prove no duplicate was ever made.
func (e *Emulator) CustomerCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.created)
}

// Customer returns a copy of the customer with id, deleted ones included.
func (e *Emulator) Customer(id string) (Customer, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.customers[id]
	if !ok {
		return Customer{}, false
	}
	return c.clone(), true
}

func (e *Emulator) sandboxAttach(w http.ResponseWriter, r *http.Request) {
	e.sandboxChange(w, r, func(id string, req eventRequest) (any, error) {
		pm, err := e.attachNotify(id, req)
		if err != nil {
			return nil, err
		}
		return pm.wire(), nil
	})
}

func (e *Emulator) sandboxDetach(w http.ResponseWriter, r *http.Request) {
	e.sandboxChange(w, r, func(id string, req eventRequest) (any, error) {
		n, err := e.detachNotify(id, req)
		return map[string]any{"customer": id, "detached": n}, err
	})
}

// sandboxChange runs change on the customer {id} under the lock, its events
// naming this request, and answers its result, or 404 when it fails (the
// customer is unknown or deleted).
func (e *Emulator) sandboxChange(w http.ResponseWriter, r *http.Request, change func(id string, req eventRequest) (any, error)) {
	reqID := newID("req_", 14)
	w.Header().Set("Request-Id", reqID)
	e.mu.Lock()
	defer e.mu.Unlock()
	id := r.PathValue("id")
	out, err := change(id, apiRequest(r, reqID))
	if err != nil {
		writeError(w, noSuch(http.StatusNotFound, "customer", id, "customer"))
		return
	}
	writeJSON(w, http.StatusOK, out)
}
