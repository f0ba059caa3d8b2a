package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paysync/paysync"
)

// lotusFieldError is one entry of Lotus's validation_errors: the DRF error
// code, DRF's English message, and the dotted path of the field
// (drf-standardized-errors' attr).
type lotusFieldError struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Attr   string `json:"attr"`
}

// lotusNonField is the attr DRF gives errors of a whole object.
const lotusNonField = "non_field_errors"

// lotusInvalid is a DRF ValidationError: every problem, in the order
// Lotus's serializer reports them (its fields' declaration order). It
// unwraps to an EINVALID *paysync.Error, so that statusOf and the logs
// treat it as the client's fault like any other dialect's 422.
type lotusInvalid struct {
	errs   []lotusFieldError
	domain error
}

func newLotusInvalid(errs []lotusFieldError) *lotusInvalid {
	v := make(paysync.Validation, len(errs))
	for _, e := range errs {
		v.Add(e.Attr, e.Code)
	}
	return &lotusInvalid{errs: errs, domain: v.Err()}
}

func (e *lotusInvalid) Error() string { return e.domain.Error() }
func (e *lotusInvalid) Unwrap() error { return e.domain }

// DRF's messages for the codes Lotus's customer serializer can raise.
const (
	lotusMsgRequired = "This field is required."
	lotusMsgNull     = "This field may not be null."
	lotusMsgBlank    = "This field may not be blank."
	lotusMsgString   = "Not a valid string."
	lotusMsgNumber   = "A valid number is required."
	lotusMsgEmail    = "Enter a valid email address."
)

// lotusFields reads one JSON object as a DRF serializer does, collecting
// errors under attr paths prefixed for nested objects ("billing_address.").
type lotusFields struct {
	obj    map[string]json.RawMessage
	prefix string
	errs   *[]lotusFieldError
}

func (f *lotusFields) fail(key, code, detail string) {
	*f.errs = append(*f.errs, lotusFieldError{Code: code, Detail: detail, Attr: f.prefix + key})
}

// lotusChar configures a CharField.
type lotusChar struct {
	required, allowNull, allowBlank bool
	maxLength                       int // 0: none
	email                           bool
}

// char reads a DRF CharField: numbers are taken as their text (DRF calls
// str() on them), booleans, objects and arrays are refused, the value is
// trimmed, and the field's validators all run.
func (f *lotusFields) char(key string, c lotusChar) opt[string] {
	raw, ok := f.obj[key]
	if !ok {
		if c.required {
			f.fail(key, "required", lotusMsgRequired)
		}
		return opt[string]{}
	}
	if isNull(raw) {
		if !c.allowNull {
			f.fail(key, "null", lotusMsgNull)
			return opt[string]{}
		}
		return opt[string]{Set: true, Null: true}
	}
	s, ok := lotusText(raw)
	if !ok {
		f.fail(key, "invalid", lotusMsgString)
		return opt[string]{}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		if !c.allowBlank {
			f.fail(key, "blank", lotusMsgBlank)
			return opt[string]{}
		}
		return opt[string]{Set: true}
	}
	valid := true
	if c.maxLength > 0 && utf8.RuneCountInString(s) > c.maxLength {
		f.fail(key, "max_length", fmt.Sprintf("Ensure this field has no more than %d characters.", c.maxLength))
		valid = false
	}
	if strings.ContainsRune(s, 0) {
		f.fail(key, "null_characters_not_allowed", "Null characters are not allowed.")
		valid = false
	}
	if c.email && !emailPattern.MatchString(s) {
		f.fail(key, "invalid", lotusMsgEmail)
		valid = false
	}
	if !valid {
		return opt[string]{}
	}
	return opt[string]{Set: true, V: s}
}

// lotusText is what DRF's CharField accepts: a string, or a number as text.
func lotusText(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	if c := raw[0]; c == '-' || c >= '0' && c <= '9' {
		return string(raw), true
	}
	return "", false
}

// choice reads a DRF ChoiceField (no trimming, no blank). An invalid
// value is quoted as Python's str() would print it, near enough.
func (f *lotusFields) choice(key string, required bool, valid func(string) bool) opt[string] {
	raw, ok := f.obj[key]
	if !ok {
		if required {
			f.fail(key, "required", lotusMsgRequired)
		}
		return opt[string]{}
	}
	if isNull(raw) {
		f.fail(key, "null", lotusMsgNull)
		return opt[string]{}
	}
	s, isString := lotusPyStr(raw)
	if !isString || !valid(s) {
		f.fail(key, "invalid_choice", fmt.Sprintf("%q is not a valid choice.", s))
		return opt[string]{}
	}
	return opt[string]{Set: true, V: s}
}

// lotusPyStr renders a JSON value as Python's str() of its decoded value,
// reporting whether it was a string.
func lotusPyStr(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	switch string(raw) {
	case "true":
		return "True", false
	case "false":
		return "False", false
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw), false
	}
	return b.String(), false
}

// currency reads default_currency_code, a DRF SlugRelatedField on the
// organization's pricing units: "" counts as null, an unknown code does
// not exist. Codes are ISO 4217, matched exactly ("usd" is unknown), as
// Lotus's lookup is.
func (f *lotusFields) currency(key string) opt[string] {
	raw, ok := f.obj[key]
	if !ok {
		return opt[string]{}
	}
	s, isString := lotusPyStr(raw)
	if isNull(raw) || isString && s == "" {
		f.fail(key, "null", lotusMsgNull)
		return opt[string]{}
	}
	if t := raw[0]; t == '{' || t == '[' {
		f.fail(key, "invalid", "Invalid value.")
		return opt[string]{}
	}
	if !isString || !paysync.ValidCurrency(s) {
		f.fail(key, "does_not_exist", fmt.Sprintf("Object with code=%s does not exist.", s))
		return opt[string]{}
	}
	return opt[string]{Set: true, V: s}
}

// Lotus's tax_rate is DecimalField(max_digits=7, decimal_places=4) with
// 0 <= x <= 999.9999; the precision checks come first, so any value above
// the maximum already fails them.
const (
	lotusTaxDigits   = 7
	lotusTaxDecimals = 4
)

// lotusDecimal is what Python's Decimal() parses, without NaN and Infinity
// (which DRF refuses too).
var lotusDecimal = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

// taxRate reads tax_rate: a number or a numeric string, null allowed.
func (f *lotusFields) taxRate(key string) opt[float64] {
	raw, ok := f.obj[key]
	if !ok {
		return opt[float64]{}
	}
	if isNull(raw) {
		return opt[float64]{Set: true, Null: true}
	}
	text, isString := lotusPyStr(raw)
	if isString {
		text = strings.TrimSpace(text)
	}
	if !lotusDecimal.MatchString(text) {
		f.fail(key, "invalid", lotusMsgNumber)
		return opt[float64]{}
	}
	total, decimals, ok := decimalDigits(text)
	switch {
	case !ok || total > lotusTaxDigits:
		f.fail(key, "max_digits", fmt.Sprintf("Ensure that there are no more than %d digits in total.", lotusTaxDigits))
		return opt[float64]{}
	case decimals > lotusTaxDecimals:
		f.fail(key, "max_decimal_places", fmt.Sprintf("Ensure that there are no more than %d decimal places.", lotusTaxDecimals))
		return opt[float64]{}
	case total-decimals > lotusTaxDigits-lotusTaxDecimals:
		f.fail(key, "max_whole_digits", fmt.Sprintf("Ensure that there are no more than %d digits before the decimal point.", lotusTaxDigits-lotusTaxDecimals))
		return opt[float64]{}
	}
	// At most 7 significant digits: the float is the decimal's nearest.
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		f.fail(key, "invalid", lotusMsgNumber)
		return opt[float64]{}
	}
	if v < 0 {
		f.fail(key, "min_value", "Ensure this value is greater than or equal to 0.")
		return opt[float64]{}
	}
	return opt[float64]{Set: true, V: v}
}

// decimalDigits counts digits as DRF's DecimalField.validate_precision
// does on Python's Decimal(text).as_tuple(): leading zeros dropped, the
// exponent moving the decimal point. ok is false for absurd exponents.
func decimalDigits(text string) (total, decimals int, ok bool) {
	text = strings.TrimLeft(text, "+-")
	mantissa, exp := text, 0
	if i := strings.IndexAny(text, "eE"); i >= 0 {
		mantissa = text[:i]
		e, err := strconv.Atoi(text[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return 0, 0, false
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		digits = "0"
	}
	exp -= len(frac)
	if exp >= 0 {
		return len(digits) + exp, 0, true
	}
	return max(len(digits), -exp), -exp, true
}

// object reads a JSON object field (properties): null allowed.
func (f *lotusFields) object(key string) opt[json.RawMessage] {
	raw, ok := f.obj[key]
	if !ok {
		return opt[json.RawMessage]{}
	}
	if isNull(raw) {
		return opt[json.RawMessage]{Set: true, Null: true}
	}
	if _, isObject := asObject(raw); !isObject {
		// DRF's JSONField takes any JSON; the spec and paysync say object.
		f.fail(key, "invalid", "Value must be a JSON object.")
		return opt[json.RawMessage]{}
	}
	var b bytes.Buffer
	_ = json.Compact(&b, raw) // raw is valid JSON: the body parsed
	// Invalid UTF-8 can only sit inside strings; replaced as the JSON
	// decoder would, it keeps the document valid and storable (PostgreSQL
	// refuses such text).
	return opt[json.RawMessage]{Set: true, V: bytes.ToValidUTF8(b.Bytes(), []byte("\uFFFD"))}
}

// nested reads a nested serializer's object; nil when absent, null or
// invalid.
func (f *lotusFields) nested(key string) (*lotusFields, bool) {
	raw, ok := f.obj[key]
	if !ok || isNull(raw) {
		return nil, ok
	}
	obj, isObject := asObject(raw)
	if !isObject {
		f.fail(key+"."+lotusNonField, "invalid", "Invalid data. Expected a dictionary, but got "+pyTypeName(raw)+".")
		return nil, true
	}
	return &lotusFields{obj: obj, prefix: f.prefix + key + ".", errs: f.errs}, true
}

// pyTypeName is the Python type name json.loads gives raw.
func pyTypeName(raw json.RawMessage) string {
	switch c := raw[0]; {
	case c == '[':
		return "list"
	case c == '"':
		return "str"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "NoneType"
	case bytes.ContainsAny(raw, ".eE"):
		return "float"
	}
	return "int"
}

// lotusCustomer is a validated Lotus create request.
type lotusCustomer struct {
	CustomerID        string
	Name              opt[string]
	Email             string
	PaymentProvider   opt[string]
	PaymentProviderID opt[string]
	Properties        opt[json.RawMessage]
	Currency          opt[string]
	Address           *paysync.Address
	BillingAddress    *paysync.Address
	ShippingAddress   *paysync.Address
	TaxRate           opt[float64]
}

// lotusProvider accepts Lotus's stripe and braintree, and paysync's other
// providers (adyen, gocardless).
func lotusProvider(s string) bool {
	_, ok := paysync.ParseProviderKind(s)
	return ok
}

// parseLotusCustomer decodes and validates a create body as Lotus's
// CustomerCreateSerializer does: every field error in declaration order,
// then the object-level rules when the fields are valid. Malformed JSON
// is DRF's parse error, a body that is not an object a validation error.
func parseLotusCustomer(body []byte) (*lotusCustomer, error) {
	var errs []lotusFieldError
	body = bytes.TrimSpace(body)
	obj := map[string]json.RawMessage{} // an empty body is no data, as DRF reads it
	if len(body) > 0 {
		// Raw: a number beyond float64 (1e309) is tax_rate's own error.
		var v json.RawMessage
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, lotusParseError(err)
		}
		switch o, isObject := asObject(body); {
		case isObject:
			obj = o
		case isNull(body):
			return nil, newLotusInvalid([]lotusFieldError{{Code: "null", Detail: "No data provided", Attr: lotusNonField}})
		default:
			return nil, newLotusInvalid([]lotusFieldError{{Code: "invalid", Detail: "Invalid data. Expected a dictionary, but got " + pyTypeName(body) + ".", Attr: lotusNonField}})
		}
	}
	f := &lotusFields{obj: obj, errs: &errs}
	in := &lotusCustomer{
		Name: f.char("customer_name", lotusChar{allowNull: true, allowBlank: true, maxLength: 100}),
		// Lotus's spec allows null (its model column does); paysync needs
		// the id to find the customer again, so null is refused.
		CustomerID:        f.char("customer_id", lotusChar{required: true}).V,
		Email:             f.char("email", lotusChar{required: true, maxLength: 100, email: true}).V,
		PaymentProvider:   f.choice("payment_provider", false, lotusProvider),
		PaymentProviderID: f.char("payment_provider_id", lotusChar{allowNull: true}),
		Properties:        f.object("properties"),
		Currency:          f.currency("default_currency_code"),
	}
	in.Address = readLotusAddress(f, "address")
	in.BillingAddress = readLotusAddress(f, "billing_address")
	in.ShippingAddress = readLotusAddress(f, "shipping_address")
	in.TaxRate = f.taxRate("tax_rate")
	if len(errs) > 0 {
		return nil, newLotusInvalid(errs)
	}
	// CustomerCreateSerializer.validate: a provider id needs its provider.
	// A provider without an id is refused by Lotus; paysync creates the
	// customer at the provider instead.
	if in.PaymentProviderID.given() && !in.PaymentProvider.given() {
		return nil, newLotusInvalid([]lotusFieldError{{Code: "invalid", Detail: "Payment provider required when payment provider ID is specified", Attr: lotusNonField}})
	}
	return in, nil
}

// Lotus's Address lengths (its AddressRequest schema).
const (
	lotusCityMax       = 50
	lotusLine1Max      = 100
	lotusPostalCodeMax = 20
	lotusStateMax      = 30
)

// readLotusAddress reads an AddressSerializer field; nil when absent or
// null. Lotus requires city, country, line1 and postal_code; line2 and
// state may be null; no field may be blank.
func readLotusAddress(f *lotusFields, key string) *paysync.Address {
	af, _ := f.nested(key)
	if af == nil {
		return nil
	}
	a := &paysync.Address{
		City:       af.char("city", lotusChar{required: true, maxLength: lotusCityMax}).V,
		Country:    af.choice("country", true, paysync.ValidCountry).V,
		Line1:      af.char("line1", lotusChar{required: true, maxLength: lotusLine1Max}).V,
		Line2:      af.char("line2", lotusChar{allowNull: true}).V,
		PostalCode: af.char("postal_code", lotusChar{required: true, maxLength: lotusPostalCodeMax}).V,
		State:      af.char("state", lotusChar{allowNull: true, maxLength: lotusStateMax}).V,
	}
	return a
}

// apply copies the request onto the new customer. billing_address wins
// over its deprecated alias address, as in Lotus's create().
func (in *lotusCustomer) apply(c *paysync.Customer) {
	c.Name = in.Name.V
	c.Email = in.Email
	c.Currency = in.Currency.V
	if in.Address != nil {
		c.BillingAddress = *in.Address
	}
	if in.BillingAddress != nil {
		c.BillingAddress = *in.BillingAddress
	}
	if in.ShippingAddress != nil {
		c.ShippingAddress = *in.ShippingAddress
	}
	if in.Properties.given() {
		c.Properties = in.Properties.V
	}
	if in.TaxRate.given() {
		v := in.TaxRate.V
		c.TaxRate = &v
	}
}

// billingRequest maps the provider fields: with an id, link that provider
// customer (the job verifies it and reads its payment methods); without
// one, create the customer at the provider in the background. No
// provider: nil, so a connection flagged sync_new_customers may take it.
func (in *lotusCustomer) billingRequest() *paysync.BillingRequest {
	if !in.PaymentProvider.given() {
		return nil
	}
	create := !in.PaymentProviderID.given()
	return &paysync.BillingRequest{
		ProviderSet:        true,
		Provider:           paysync.ProviderKind(in.PaymentProvider.V),
		ProviderCustomerID: in.PaymentProviderID.V,
		SyncWithProvider:   &create,
	}
}
