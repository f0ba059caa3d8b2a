// Package adyenemu emulates the parts of Adyen's Checkout API that paysync
// and the official Adyen SDKs use, in memory, for tests and sandbox mode.
//
// API routes (X-API-Key auth), served under /v71/ — and, with the same
// behaviour, under any other /v<N>/ (the Node library 32.x defaults to
// /v72/), under /checkout/v<N>/ (the live URL shape) and unversioned:
//
//	GET    /storedPaymentMethods?merchantAccount=&shopperReference=
//	DELETE /storedPaymentMethods/{id}?merchantAccount=&shopperReference=
//	POST   /paymentLinks            (Idempotency-Key honoured)
//	GET    /paymentLinks/{id}
//	PATCH  /paymentLinks/{id}       ({"status":"expired"})
//
// Control routes (no auth, never faulted):
//
//	/_faults                                      the fault plan (package fault)
//	POST|GET|DELETE /_sandbox/shoppers/{ref}/payment_methods
//	GET|POST /_sandbox/links/{id}                 the hosted link page; POST stores a card
//	GET /_sandbox/state                           counts, for humans
//	POST /_sandbox/seed                           422: Adyen has no customers to seed
//
// Webhooks: after SendWebhooks, storing a payment method for a shopper (by
// any of the routes and helpers above) posts Adyen's Standard AUTHORISATION
// webhook and a Tokenization recurring.token.created webhook, and removing
// one posts recurring.token.disabled, signed with an HMAC key (webhook.go).
//
// Stored payment methods are kept per shopperReference, shared by all
// merchant accounts: enough for one sandbox, not a model of Adyen's
// account hierarchy. Error bodies are Adyen's ServiceError
// {status, errorCode, message, errorType, pspReference}.
package adyenemu

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paysync/paysync/sandbox/fault"
	"github.com/paysync/paysync/sandbox/state"
	"github.com/paysync/paysync/sandbox/webhooksend"
)

// Credentials New accepts, given to sandbox connections.
const (
	SandboxAPIKey          = "adyen_sandbox_api_key"
	SandboxMerchantAccount = "PaysyncSandboxECOM"
)

// LinkValidity is how long a payment link stays active unless the request
// sets expiresAt (Adyen's default is 24 hours).
const LinkValidity = 24 * time.Hour

const (
	minShopperReference = 3
	maxShopperReference = 256
	maxIdempotencyKey   = 64
	maxBody             = 1 << 20
)

// Emulator is an in-memory Adyen Checkout API; the zero value is not ready,
// use New.
type Emulator struct {
	// Faults sits in front of the API routes; its plan is served at /_faults.
	Faults *fault.Injector
	// PublicURL, when set, is the base of payment link URLs; otherwise they
	// are built from the request's scheme, host and mount prefix.
	PublicURL string

	mu       sync.Mutex
	keys     map[string]map[string]bool // API key -> allowed merchant accounts; nil allows any
	shoppers map[string][]storedMethod  // shopperReference -> tokens
	links    map[string]*paymentLink
	replays  map[string]replay // idempotency scope -> first answer
	// state, when set, keeps every object across restarts (persist.go).
	state *state.Store
	now   func() time.Time

	mux *http.ServeMux

	// hooks sends the webhooks (webhook.go).
	hooks *webhooksend.Sender[hookMeta]
}

type storedMethod struct {
	ID                                 string   `json:"id"`
	Type                               string   `json:"type"`
	Brand                              string   `json:"brand"`
	Name                               string   `json:"name"`
	LastFour                           string   `json:"lastFour"`
	ExpiryMonth                        string   `json:"expiryMonth"`
	ExpiryYear                         string   `json:"expiryYear"`
	HolderName                         string   `json:"holderName"`
	ShopperReference                   string   `json:"shopperReference"`
	SupportedRecurringProcessingModels []string `json:"supportedRecurringProcessingModels"`

	// merchantAccount stored the method; it is named in webhooks only.
	merchantAccount string
}

type paymentLink struct {
	id               string
	status           string
	shopperReference string
	returnURL        string
	storeMethod      bool
	// fields is the request as sent plus what Adyen adds: the link is
	// echoed back with every field the merchant set.
	fields map[string]any
}

type replay struct {
	status int
	body   []byte
}

// New returns an empty emulator that accepts SandboxAPIKey for any
// merchant account.
func New() *Emulator {
	e := &Emulator{
		keys:     map[string]map[string]bool{SandboxAPIKey: nil},
		shoppers: map[string][]storedMethod{},
		links:    map[string]*paymentLink{},
		replays:  map[string]replay{},
		now:      time.Now,
		hooks:    webhooksend.New[hookMeta](webhookPolicy),
	}
	e.Faults = fault.New(writeFault, nil)
	mux := http.NewServeMux()
	mux.Handle("/_faults", e.Faults.Handler())
	mux.HandleFunc("GET /_sandbox/state", e.serveState)
	mux.HandleFunc("POST /_sandbox/seed", serveSeed)
	mux.HandleFunc("GET /_sandbox/shoppers/{ref}/payment_methods", e.serveSandboxList)
	mux.HandleFunc("POST /_sandbox/shoppers/{ref}/payment_methods", e.serveSandboxAttach)
	mux.HandleFunc("DELETE /_sandbox/shoppers/{ref}/payment_methods", e.serveSandboxDetach)
	mux.HandleFunc("GET /_sandbox/links/{id}", e.serveLinkPage)
	mux.HandleFunc("POST /_sandbox/links/{id}", e.serveLinkComplete)
	mux.Handle("/", e.Faults.Wrap(http.HandlerFunc(e.serveAPI)))
	e.mux = mux
	return e
}

// ServeHTTP serves the API and the control routes.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.mux.ServeHTTP(w, r) }

// AddAPIKey accepts key for the given merchant accounts, or for any when
// none is given. A request naming another merchant account gets 403.
func (e *Emulator) AddAPIKey(key string, merchantAccounts ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var allowed map[string]bool
	if len(merchantAccounts) > 0 {
		allowed = map[string]bool{}
		for _, m := range merchantAccounts {
			allowed[m] = true
		}
	}
	e.keys[key] = allowed
}

// AttachPaymentMethod stores a test Visa card for the shopper, as a
// completed zero-amount authorisation would, and returns its token id.
func (e *Emulator) AttachPaymentMethod(shopperReference string) (string, error) {
	m, err := e.attach(shopperReference, storedMethod{}, origin{})
	return m.ID, err
}

// DetachPaymentMethods removes every stored payment method of the shopper;
// it fails when the emulator has never seen the shopper.
func (e *Emulator) DetachPaymentMethods(shopperReference string) error {
	e.mu.Lock()
	removed, ok := e.shoppers[shopperReference]
	if ok {
		e.shoppers[shopperReference] = nil
		e.saveShopper(shopperReference)
	}
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("adyenemu: unknown shopper %q", shopperReference)
	}
	for _, m := range removed {
		e.webhookRemoved(m)
	}
	return nil
}

// PaymentMethods counts the shopper's stored payment methods.
func (e *Emulator) PaymentMethods(shopperReference string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.shoppers[shopperReference])
}

// Shoppers counts the shopper references the emulator has seen in a
// payment link or a stored payment method. Reading stored payment methods
// does not create a shopper, as at Adyen.
func (e *Emulator) Shoppers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.shoppers)
}

// PaymentLinks counts the payment links created.
func (e *Emulator) PaymentLinks() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.links)
}

// PaymentLinkStatus returns a link's status ("active", "completed",
// "expired"), or "" for an unknown id.
func (e *Emulator) PaymentLinkStatus(id string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.links[id]; ok {
		return e.currentStatus(l)
	}
	return ""
}

// CompletePaymentLink plays the shopper finishing the link's page: the link
// becomes completed and, when it stores payment methods, the shopper gets a
// card. It returns the token id stored, if any.
func (e *Emulator) CompletePaymentLink(id string) (string, error) {
	e.mu.Lock()
	l, ok := e.links[id]
	if !ok {
		e.mu.Unlock()
		return "", fmt.Errorf("adyenemu: unknown payment link %q", id)
	}
	if s := e.currentStatus(l); s != "active" {
		e.mu.Unlock()
		return "", fmt.Errorf("adyenemu: payment link %s is %s", id, s)
	}
	l.status = "completed"
	l.fields["updatedAt"] = e.now().UTC().Format(time.RFC3339)
	e.saveLink(l)
	ref, store := l.shopperReference, l.storeMethod && l.shopperReference != ""
	o := origin{linkID: l.id}
	o.merchantAccount, _ = l.fields["merchantAccount"].(string)
	o.merchantReference, _ = l.fields["reference"].(string)
	if amount, ok := l.fields["amount"].(map[string]any); ok {
		o.currency, _ = amount["currency"].(string)
	}
	e.mu.Unlock()
	if !store {
		return "", nil
	}
	m, err := e.attach(ref, storedMethod{}, o)
	return m.ID, err
}

// attach stores m for the shopper and sends the webhooks of o, the way the
// method was stored (a payment link, or a plain zero-amount authorisation
// for the sandbox routes and helpers).
func (e *Emulator) attach(shopperReference string, m storedMethod, o origin) (storedMethod, error) {
	if n := len(shopperReference); n < minShopperReference || n > maxShopperReference {
		return m, fmt.Errorf("adyenemu: a shopper reference has %d to %d characters", minShopperReference, maxShopperReference)
	}
	id, err := digits(16)
	if err != nil {
		return m, err
	}
	m.ID, m.Type, m.ShopperReference = id, "scheme", shopperReference
	if m.Brand == "" {
		m.Brand, m.Name = "visa", "VISA"
	}
	if m.Name == "" {
		m.Name = strings.ToUpper(m.Brand)
	}
	if m.LastFour == "" {
		m.LastFour = "1111"
	}
	if m.ExpiryMonth == "" || m.ExpiryYear == "" {
		// Adyen's test cards expire 03/2030.
		m.ExpiryMonth, m.ExpiryYear = "03", "2030"
	}
	if m.HolderName == "" {
		m.HolderName = "Sandbox Shopper"
	}
	m.SupportedRecurringProcessingModels = []string{"CardOnFile", "Subscription", "UnscheduledCardOnFile"}
	if o.merchantAccount == "" {
		o.merchantAccount = SandboxMerchantAccount
	}
	if o.merchantReference == "" {
		o.merchantReference = "sandbox-store-" + id
	}
	if o.currency == "" {
		o.currency = "EUR"
	}
	m.merchantAccount = o.merchantAccount
	e.mu.Lock()
	e.shoppers[shopperReference] = append(e.shoppers[shopperReference], m)
	e.saveShopper(shopperReference)
	e.mu.Unlock()
	e.webhooksStored(m, o)
	return m, nil
}

// currentStatus expires links lazily; callers hold e.mu.
func (e *Emulator) currentStatus(l *paymentLink) string {
	if l.status == "active" {
		if s, ok := l.fields["expiresAt"].(string); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil && !e.now().Before(t) {
				l.status = "expired"
			}
		}
	}
	return l.status
}

// serviceError is Adyen's error body.
type serviceError struct {
	Status       int    `json:"status"`
	ErrorCode    string `json:"errorCode"`
	Message      string `json:"message"`
	ErrorType    string `json:"errorType"`
	PSPReference string `json:"pspReference,omitempty"`
}

func (s *serviceError) Error() string { return s.ErrorCode + " " + s.Message }

func apiError(status int, code, errorType, format string, args ...any) *serviceError {
	return &serviceError{Status: status, ErrorCode: code, Message: fmt.Sprintf(format, args...), ErrorType: errorType, PSPReference: pspReference()}
}

func errUnauthorized() *serviceError {
	return apiError(http.StatusUnauthorized, "000", "security", "HTTP Status Response - Unauthorized")
}

func errNotAllowed() *serviceError {
	return apiError(http.StatusForbidden, "010", "security", "Not allowed")
}

func errMerchant() *serviceError {
	return apiError(http.StatusUnprocessableEntity, "901", "validation", "Invalid Merchant Account")
}

func errRequired(field string) *serviceError {
	return apiError(http.StatusUnprocessableEntity, "158", "validation", "Required field '%s' is not provided.", field)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, se *serviceError) {
	if se.PSPReference != "" {
		w.Header().Set("pspReference", se.PSPReference)
	}
	writeJSON(w, se.Status, se)
}

// writeFault answers an injected fault in Adyen's error shape.
func writeFault(w http.ResponseWriter, status int, kind fault.Kind) {
	switch {
	case status == http.StatusTooManyRequests:
		writeError(w, apiError(status, "000", "internal", "Too Many Requests"))
	case status >= 500:
		writeError(w, apiError(status, "000", "internal", "Internal Server Error (injected %s)", kind))
	default:
		writeError(w, apiError(status, "000", "validation", "%s (injected %s)", http.StatusText(status), kind))
	}
}

// apiPath strips what may precede the API's own path: a live-style
// /checkout and a /v<N> version.
func apiPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/checkout/"); ok {
		p = "/" + rest
	}
	if rest, ok := strings.CutPrefix(p, "/v"); ok {
		version, tail, _ := strings.Cut(rest, "/")
		if version != "" && strings.Trim(version, "0123456789") == "" {
			p = "/" + tail
		}
	}
	return p
}

// serveAPI authenticates and routes one Checkout API request.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("X-API-Key")
	e.mu.Lock()
	allowed, known := e.keys[key]
	e.mu.Unlock()
	if key == "" || !known {
		writeError(w, errUnauthorized())
		return
	}
	a := &apiCall{e: e, w: w, r: r, key: key, allowed: allowed}
	path := apiPath(r.URL.Path)
	switch {
	case path == "/storedPaymentMethods":
		a.route(map[string]func(){http.MethodGet: a.listStored})
	case strings.HasPrefix(path, "/storedPaymentMethods/") && strings.Count(path, "/") == 2:
		a.route(map[string]func(){http.MethodDelete: func() { a.deleteStored(strings.TrimPrefix(path, "/storedPaymentMethods/")) }})
	case path == "/paymentLinks":
		a.route(map[string]func(){http.MethodPost: a.createLink})
	case strings.HasPrefix(path, "/paymentLinks/") && strings.Count(path, "/") == 2:
		id := strings.TrimPrefix(path, "/paymentLinks/")
		a.route(map[string]func(){http.MethodGet: func() { a.getLink(id) }, http.MethodPatch: func() { a.updateLink(id) }})
	default:
		writeError(w, apiError(http.StatusNotFound, "000", "validation", "Not Found"))
	}
}

// apiCall is one authenticated API request.
type apiCall struct {
	e       *Emulator
	w       http.ResponseWriter
	r       *http.Request
	key     string
	allowed map[string]bool
}

func (a *apiCall) route(methods map[string]func()) {
	if h, ok := methods[a.r.Method]; ok {
		h()
		return
	}
	writeError(a.w, apiError(http.StatusMethodNotAllowed, "000", "validation", "Method %s not allowed", a.r.Method))
}

// merchant checks that a merchant account is given and the key may use it.
func (a *apiCall) merchant(m string) *serviceError {
	if m == "" {
		return errMerchant()
	}
	if a.allowed != nil && !a.allowed[m] {
		return errNotAllowed()
	}
	return nil
}

// shopperQuery reads the merchantAccount and shopperReference the stored
// payment method routes require; when one is missing or not allowed it
// answers the error and reports false.
func (a *apiCall) shopperQuery() (merchant, ref string, ok bool) {
	q := a.r.URL.Query()
	merchant, ref = q.Get("merchantAccount"), q.Get("shopperReference")
	if se := a.merchant(merchant); se != nil {
		writeError(a.w, se)
		return "", "", false
	}
	if ref == "" {
		writeError(a.w, errRequired("shopperReference"))
		return "", "", false
	}
	return merchant, ref, true
}

func (a *apiCall) listStored() {
	m, ref, ok := a.shopperQuery()
	if !ok {
		return
	}
	a.e.mu.Lock()
	methods := append([]storedMethod{}, a.e.shoppers[ref]...)
	a.e.mu.Unlock()
	writeJSON(a.w, http.StatusOK, map[string]any{
		"merchantAccount":      m,
		"shopperReference":     ref,
		"storedPaymentMethods": methods,
	})
}

func (a *apiCall) deleteStored(id string) {
	_, ref, ok := a.shopperQuery()
	if !ok {
		return
	}
	a.e.mu.Lock()
	methods := a.e.shoppers[ref]
	for i, sm := range methods {
		if sm.ID == id {
			a.e.shoppers[ref] = append(methods[:i:i], methods[i+1:]...)
			a.e.saveShopper(ref)
			a.e.mu.Unlock()
			a.e.webhookRemoved(sm)
			a.w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	a.e.mu.Unlock()
	writeError(a.w, apiError(http.StatusUnprocessableEntity, "800", "validation", "Contract not found"))
}

// linkRequest is the part of a PaymentLinkRequest the emulator checks.
type linkRequest struct {
	Amount *struct {
		Currency string `json:"currency"`
		Value    *int64 `json:"value"`
	} `json:"amount"`
	MerchantAccount          string  `json:"merchantAccount"`
	Reference                string  `json:"reference"`
	ShopperReference         string  `json:"shopperReference"`
	ReturnURL                string  `json:"returnUrl"`
	StorePaymentMethodMode   string  `json:"storePaymentMethodMode"`
	RecurringProcessingModel string  `json:"recurringProcessingModel"`
	ExpiresAt                *string `json:"expiresAt"`
}

func (r *linkRequest) validate() *serviceError {
	switch {
	case r.Amount == nil:
		return apiError(http.StatusUnprocessableEntity, "100", "validation", "Required object 'amount' is not provided.")
	case r.Amount.Value == nil:
		return errRequired("amount.value")
	case *r.Amount.Value < 0:
		return apiError(http.StatusUnprocessableEntity, "137", "validation", "Invalid amount specified")
	case len(r.Amount.Currency) != 3 || strings.ToUpper(r.Amount.Currency) != r.Amount.Currency:
		return apiError(http.StatusUnprocessableEntity, "138", "validation", "No amount or invalid currency specified")
	case r.Reference == "":
		return apiError(http.StatusUnprocessableEntity, "130", "validation", "Reference Missing")
	}
	if r.ShopperReference != "" && (len(r.ShopperReference) < minShopperReference || len(r.ShopperReference) > maxShopperReference) {
		return apiError(http.StatusUnprocessableEntity, "702", "validation",
			"shopperReference must be %d to %d characters", minShopperReference, maxShopperReference)
	}
	switch r.StorePaymentMethodMode {
	case "", "disabled":
	case "enabled", "askForConsent":
		if r.ShopperReference == "" {
			return errRequired("shopperReference")
		}
	default:
		return apiError(http.StatusUnprocessableEntity, "702", "validation", "Invalid storePaymentMethodMode %q", r.StorePaymentMethodMode)
	}
	switch r.RecurringProcessingModel {
	case "", "CardOnFile", "Subscription", "UnscheduledCardOnFile":
	default:
		return apiError(http.StatusUnprocessableEntity, "702", "validation", "Invalid recurringProcessingModel %q", r.RecurringProcessingModel)
	}
	if r.ExpiresAt != nil {
		if _, err := time.Parse(time.RFC3339, *r.ExpiresAt); err != nil {
			return apiError(http.StatusUnprocessableEntity, "702", "validation", "Invalid expiresAt: not an ISO 8601 date-time")
		}
	}
	return nil
}

func (a *apiCall) createLink() {
	body, err := io.ReadAll(http.MaxBytesReader(a.w, a.r.Body, maxBody))
	if err != nil {
		writeError(a.w, apiError(http.StatusBadRequest, "702", "validation", "Unable to read request body"))
		return
	}
	idemKey := a.r.Header.Get("Idempotency-Key")
	if len(idemKey) > maxIdempotencyKey {
		writeError(a.w, apiError(http.StatusUnprocessableEntity, "702", "validation", "Idempotency-Key exceeds %d characters", maxIdempotencyKey))
		return
	}
	// Keys are scoped to the account (here: the API key) and endpoint. The
	// lock is held through creation so that concurrent repeats of one key
	// cannot both create.
	scope := a.key + "\x00POST /paymentLinks\x00" + idemKey
	a.e.mu.Lock()
	defer a.e.mu.Unlock()
	if idemKey != "" {
		if prev, ok := a.e.replays[scope]; ok {
			a.w.Header().Set("Idempotency-Key", idemKey)
			a.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			a.w.WriteHeader(prev.status)
			_, _ = a.w.Write(prev.body)
			return
		}
	}
	status, resp := a.e.newLink(a, body)
	out, _ := json.Marshal(resp)
	out = append(out, '\n')
	if idemKey != "" {
		// Refusals are replayed too: a key names one processed request,
		// whatever its outcome.
		a.e.replays[scope] = replay{status: status, body: out}
		a.e.saveReplay(scope, a.e.replays[scope])
		a.w.Header().Set("Idempotency-Key", idemKey)
	}
	a.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	a.w.WriteHeader(status)
	_, _ = a.w.Write(out)
}

// newLink creates a payment link from a request body; e.mu is held.
func (e *Emulator) newLink(a *apiCall, body []byte) (int, any) {
	var fields map[string]any
	var req linkRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil {
		se := apiError(http.StatusBadRequest, "702", "validation", "Empty or invalid JSON input")
		return se.Status, se
	}
	if err := json.Unmarshal(body, &req); err != nil {
		se := apiError(http.StatusBadRequest, "702", "validation", "Structure of PaymentLinkRequest contains invalid values")
		return se.Status, se
	}
	if req.MerchantAccount == "" {
		se := errMerchant()
		return se.Status, se
	}
	if a.allowed != nil && !a.allowed[req.MerchantAccount] {
		se := errNotAllowed()
		return se.Status, se
	}
	if se := req.validate(); se != nil {
		return se.Status, se
	}
	hex, err := randomHex(8)
	if err != nil {
		se := apiError(http.StatusInternalServerError, "000", "internal", "Internal error")
		return se.Status, se
	}
	id := "PL" + strings.ToUpper(hex)
	now := e.now().UTC()
	fields["id"] = id
	fields["url"] = e.linkURL(a.r, id)
	fields["status"] = "active"
	if req.ExpiresAt == nil {
		fields["expiresAt"] = now.Add(LinkValidity).Format(time.RFC3339)
	}
	if _, ok := fields["reusable"]; !ok {
		fields["reusable"] = false
	}
	l := &paymentLink{
		id:               id,
		status:           "active",
		shopperReference: req.ShopperReference,
		returnURL:        req.ReturnURL,
		storeMethod:      req.StorePaymentMethodMode == "enabled" || req.StorePaymentMethodMode == "askForConsent",
		fields:           fields,
	}
	e.links[id] = l
	e.saveLink(l)
	if req.ShopperReference != "" {
		if _, ok := e.shoppers[req.ShopperReference]; !ok {
			e.shoppers[req.ShopperReference] = nil
			e.saveShopper(req.ShopperReference)
		}
	}
	return http.StatusCreated, e.linkView(l)
}

// linkView renders a link as PaymentLinkResponse; e.mu is held.
func (e *Emulator) linkView(l *paymentLink) map[string]any {
	out := make(map[string]any, len(l.fields))
	for k, v := range l.fields {
		out[k] = v
	}
	out["status"] = e.currentStatus(l)
	return out
}

// linkURL points at the emulator's own page for the link, behind whatever
// prefix the emulator is mounted at (http.StripPrefix keeps RequestURI).
func (e *Emulator) linkURL(r *http.Request, id string) string {
	if e.PublicURL != "" {
		return strings.TrimRight(e.PublicURL, "/") + "/_sandbox/links/" + id
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	uriPath, _, _ := strings.Cut(r.RequestURI, "?")
	prefix := strings.TrimSuffix(uriPath, r.URL.Path)
	return scheme + "://" + r.Host + prefix + "/_sandbox/links/" + id
}

// link is the payment link id names, if the key may see it; otherwise it
// answers the error and reports false. e.mu is held.
func (a *apiCall) link(id string) (*paymentLink, bool) {
	l, ok := a.e.links[id]
	if !ok {
		writeError(a.w, apiError(http.StatusNotFound, "000", "validation", "Payment link not found"))
		return nil, false
	}
	if se := a.merchant(fmt.Sprint(l.fields["merchantAccount"])); se != nil {
		writeError(a.w, se)
		return nil, false
	}
	return l, true
}

func (a *apiCall) getLink(id string) {
	a.e.mu.Lock()
	defer a.e.mu.Unlock()
	if l, ok := a.link(id); ok {
		writeJSON(a.w, http.StatusOK, a.e.linkView(l))
	}
}

func (a *apiCall) updateLink(id string) {
	var in struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(a.w, a.r.Body, maxBody)).Decode(&in); err != nil {
		writeError(a.w, apiError(http.StatusBadRequest, "702", "validation", "Empty or invalid JSON input"))
		return
	}
	if in.Status != "expired" {
		writeError(a.w, apiError(http.StatusUnprocessableEntity, "702", "validation", "Only status 'expired' can be set"))
		return
	}
	a.e.mu.Lock()
	defer a.e.mu.Unlock()
	l, ok := a.link(id)
	if !ok {
		return
	}
	if a.e.currentStatus(l) == "active" {
		l.status = "expired"
		l.fields["updatedAt"] = a.e.now().UTC().Format(time.RFC3339)
		a.e.saveLink(l)
	}
	writeJSON(a.w, http.StatusOK, a.e.linkView(l))
}

func (e *Emulator) serveState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]int{"shoppers": e.Shoppers(), "payment_links": e.PaymentLinks(), "requests": e.Faults.Requests()})
}

func (e *Emulator) serveSandboxList(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	e.mu.Lock()
	methods := append([]storedMethod{}, e.shoppers[ref]...)
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"shopperReference": ref, "storedPaymentMethods": methods})
}

// serveSandboxAttach stores a card; an optional JSON body may set brand,
// lastFour, holderName, expiryMonth and expiryYear.
func (e *Emulator) serveSandboxAttach(w http.ResponseWriter, r *http.Request) {
	var in storedMethod
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, apiError(http.StatusBadRequest, "702", "validation", "Empty or invalid JSON input"))
		return
	}
	m, err := e.attach(r.PathValue("ref"), storedMethod{
		Brand: in.Brand, LastFour: in.LastFour, HolderName: in.HolderName, ExpiryMonth: in.ExpiryMonth, ExpiryYear: in.ExpiryYear,
	}, origin{})
	if err != nil {
		writeError(w, apiError(http.StatusUnprocessableEntity, "702", "validation", "%s", err.Error()))
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

func (e *Emulator) serveSandboxDetach(w http.ResponseWriter, r *http.Request) {
	if err := e.DetachPaymentMethods(r.PathValue("ref")); err != nil {
		writeError(w, apiError(http.StatusNotFound, "000", "validation", "%s", err.Error()))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// digits returns n random decimal digits, like Adyen's token ids. The
// random helpers fail only when the OS has no entropy source.
func digits(n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", err
		}
		b[i] = byte('0' + d.Int64())
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b), nil
}

func randomHex(nBytes int) (string, error) {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", b), nil
}

// pspReference is a new pspReference: 16 of Adyen's upper-case letters
// and digits. crypto/rand.Read does not fail (it would crash instead).
func pspReference() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
