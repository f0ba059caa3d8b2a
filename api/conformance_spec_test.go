package api_test

// The conformance harness: the three dialects' OpenAPI files, loaded once
// per test binary, and a check that a response paysync really sent is one
// the matching operation of the spec allows (status, content type, body).
//
// Where a spec is wrong or narrower than the real peer, the spec is amended
// here, in memory, one documented change at a time (an amendment that no
// longer applies fails the load, so a fixed spec is noticed). Where paysync
// answers outside the spec on purpose, the test that provokes it says so
// with an oasTolerance naming the one field and keyword it excuses.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"gopkg.in/yaml.v3"

	"github.com/paysync/paysync/internal/testenv"
)

// oasSpec is one dialect's OpenAPI document, reduced to the customer
// operations and amended where the peer really behaves otherwise.
type oasSpec struct {
	name string
	file string // in ../shared/specs
	// keep lists the spec paths the conformance tests exercise; the others
	// are dropped before the validator compiles schemas (the files hold
	// hundreds of operations, and compiling them all costs seconds).
	keep []string
	// specPath maps a paysync URL path to the spec's path for it.
	specPath func(path string) (string, error)
	amend    []oasAmendment

	once  sync.Once
	err   error
	v     validator.Validator
	model *v3.Document
}

// oasAmendment is one documented change to a spec, applied to its YAML tree.
type oasAmendment struct {
	what  string // what changes, for the load error
	apply func(root *yaml.Node) error
}

// load parses, prunes, amends and compiles the spec, once per test binary.
func (s *oasSpec) load(t testing.TB) validator.Validator {
	t.Helper()
	s.once.Do(func() { s.err = s.build() })
	if s.err != nil {
		t.Fatalf("%s spec: %v", s.name, s.err)
	}
	return s.v
}

func (s *oasSpec) build() error {
	file := filepath.Join(testenv.SharedDir(), "specs", s.file)
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc yaml.Node // JSON is YAML: one reader for the three files
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	root := doc.Content[0]
	if err := oasYAMLKeepPaths(root, s.keep); err != nil {
		return err
	}
	for _, a := range s.amend {
		if err := a.apply(root); err != nil {
			return fmt.Errorf("amendment %q no longer applies (was the spec fixed? then drop it): %w", a.what, err)
		}
	}
	oasYAMLBlockStyle(&doc)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	d, err := libopenapi.NewDocument(out)
	if err != nil {
		return err
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return err
	}
	s.model = &m.Model
	s.v = validator.NewValidatorFromV3Model(s.model, config.WithFormatAssertions())
	return nil
}

// oasYAMLKeepPaths drops every path of the spec but keep, failing when one of
// keep is not there.
func oasYAMLKeepPaths(root *yaml.Node, keep []string) error {
	ps, err := oasYAMLAt(root, "paths")
	if err != nil {
		return err
	}
	var content []*yaml.Node
	found := map[string]bool{}
	for i := 0; i+1 < len(ps.Content); i += 2 {
		if slices.Contains(keep, ps.Content[i].Value) {
			content = append(content, ps.Content[i], ps.Content[i+1])
			found[ps.Content[i].Value] = true
		}
	}
	for _, k := range keep {
		if !found[k] {
			return fmt.Errorf("the spec has no path %s", k)
		}
	}
	ps.Content = content
	return nil
}

// oasYAMLBlockStyle renders every mapping and sequence in block style, so
// that the JSON spec, once amended with YAML fragments, is written as YAML
// rather than as JSON-looking flow YAML that JSON readers refuse.
func oasYAMLBlockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style &^= yaml.FlowStyle
	}
	for _, c := range n.Content {
		oasYAMLBlockStyle(c)
	}
}

// oasYAMLAt walks mapping keys from n.
func oasYAMLAt(n *yaml.Node, keys ...string) (*yaml.Node, error) {
	for i, k := range keys {
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s is not a mapping", strings.Join(keys[:i], "."))
		}
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == k {
				next = n.Content[j+1]
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("no %s", strings.Join(keys[:i+1], "."))
		}
		n = next
	}
	return n, nil
}

// oasYAMLFragment parses one YAML value.
func oasYAMLFragment(src string) (*yaml.Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		return nil, err
	}
	return n.Content[0], nil
}

// oasYAMLAdd adds key: value to the mapping at keys, refusing to overwrite.
func oasYAMLAdd(root *yaml.Node, keys []string, key, value string) error {
	m, err := oasYAMLAt(root, keys...)
	if err != nil {
		return err
	}
	if _, err := oasYAMLAt(m, key); err == nil {
		return fmt.Errorf("%s.%s is already there", strings.Join(keys, "."), key)
	}
	v, err := oasYAMLFragment(value)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return nil
}

// oasAddResponse documents a status the peer answers that the operation lacks.
func oasAddResponse(path, method, status, why, response string) oasAmendment {
	return oasAmendment{
		what: fmt.Sprintf("%s %s answers %s: %s", strings.ToUpper(method), path, status, why),
		apply: func(root *yaml.Node) error {
			return oasYAMLAdd(root, []string{"paths", path, method, "responses"}, status, response)
		},
	}
}

// oasAddOperation documents an operation the peer serves that the spec lacks.
func oasAddOperation(path, method, why, operation string) oasAmendment {
	return oasAmendment{
		what: fmt.Sprintf("%s %s exists: %s", strings.ToUpper(method), path, why),
		apply: func(root *yaml.Node) error {
			return oasYAMLAdd(root, []string{"paths", path}, method, operation)
		},
	}
}

// oasAddProperty documents a property of a component schema the spec lacks.
func oasAddProperty(schema, name, why, property string) oasAmendment {
	return oasAmendment{
		what: fmt.Sprintf("schema %s has %s: %s", schema, name, why),
		apply: func(root *yaml.Node) error {
			return oasYAMLAdd(root, []string{"components", "schemas", schema, "properties"}, name, property)
		},
	}
}

// oasRequire makes keys required in a component schema that requires none.
func oasRequire(schema, why string, keys ...string) oasAmendment {
	return oasAmendment{
		what: fmt.Sprintf("schema %s requires %s: %s", schema, strings.Join(keys, ", "), why),
		apply: func(root *yaml.Node) error {
			return oasYAMLAdd(root, []string{"components", "schemas", schema}, "required", "["+strings.Join(keys, ", ")+"]")
		},
	}
}

// oasAddSchema adds a component schema the amendments refer to.
func oasAddSchema(name, schema string) oasAmendment {
	return oasAmendment{
		what: "schema " + name,
		apply: func(root *yaml.Node) error {
			return oasYAMLAdd(root, []string{"components", "schemas"}, name, schema)
		},
	}
}

// oasExchange is one request paysync answered, as the client saw it.
type oasExchange struct {
	method string
	target string // path and query, as sent to paysync
	status int
	header http.Header
	body   []byte
}

func (ex oasExchange) String() string {
	return fmt.Sprintf("%s %s -> %d", ex.method, ex.target, ex.status)
}

// oasTolerance excuses one schema failure of one response: the keyword
// (enum, format, required, ...) failing at the field (the validator's
// JSONPath, "$.customer.billing_configuration.payment_provider"). Every
// tolerance must be used: one that excuses nothing fails the test.
type oasTolerance struct {
	field, keyword string
	why            string
}

// conforms fails t unless ex is a response the spec allows for its
// request: a documented status (or a documented range or default), the
// documented content type, and a body that validates against the schema,
// with formats (uuid, date-time, email) asserted.
func (s *oasSpec) conforms(t testing.TB, ex oasExchange, tolerate ...oasTolerance) {
	t.Helper()
	v := s.load(t)
	u, err := url.Parse(ex.target)
	if err != nil {
		t.Fatalf("%s: %v", ex, err)
	}
	specPath, err := s.specPath(u.EscapedPath())
	if err != nil {
		t.Fatalf("%s %s: %v", s.name, ex, err)
	}
	unescaped, err := url.PathUnescape(specPath)
	if err != nil {
		t.Fatalf("%s %s: %v", s.name, ex, err)
	}
	req := httptest.NewRequest(ex.method, (&url.URL{Path: unescaped, RawPath: specPath, RawQuery: u.RawQuery}).String(), nil)
	item, perrs, template := paths.FindPath(req, s.model, nil)
	if item == nil || len(perrs) > 0 {
		t.Fatalf("%s %s: no operation %s %s in the spec: %s", s.name, ex, ex.method, specPath, oasDescribe(perrs))
	}
	resp := &http.Response{
		StatusCode: ex.status,
		Header:     ex.header.Clone(),
		Body:       io.NopCloser(bytes.NewReader(ex.body)),
		Request:    req,
	}
	_, errs := v.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(req, resp, item, template)
	errs = append(errs, oasContentChecks(s.model, item, req, ex)...)
	errs, unused := oasApplyTolerances(errs, tolerate)
	for _, tol := range unused {
		t.Errorf("%s %s: tolerance for %s (%s) excused nothing: drop it (%s)", s.name, ex, tol.field, tol.keyword, tol.why)
	}
	if len(errs) > 0 {
		t.Errorf("%s %s does not conform to %s %s %s:\n%s\nbody: %s", s.name, ex, s.file, ex.method, template, oasDescribe(errs), oasTruncate(ex.body, 2000))
	}
}

// oasContentChecks covers what the validator leaves out: a documented body
// must be there and be JSON (it skips bodies whose type is not JSON), and
// an operation documented with no content must send none.
func oasContentChecks(model *v3.Document, item *v3.PathItem, req *http.Request, ex oasExchange) []*verrors.ValidationError {
	op := item.GetOperations().GetOrZero(strings.ToLower(req.Method))
	if op == nil || op.Responses == nil {
		return nil
	}
	r := op.Responses.Codes.GetOrZero(fmt.Sprint(ex.status))
	if r == nil {
		r = op.Responses.Codes.GetOrZero(fmt.Sprintf("%dXX", ex.status/100))
	}
	if r == nil {
		r = op.Responses.Default
	}
	if r == nil {
		return nil // the validator reports the undocumented status
	}
	fail := func(msg string) []*verrors.ValidationError {
		return []*verrors.ValidationError{{Message: msg}}
	}
	if r.Content == nil || r.Content.Len() == 0 {
		if len(ex.body) > 0 {
			return fail(fmt.Sprintf("status %d is documented without content, but %d bytes were sent", ex.status, len(ex.body)))
		}
		return nil
	}
	if len(ex.body) == 0 {
		return fail(fmt.Sprintf("status %d is documented with content, but the body is empty", ex.status))
	}
	if ct := ex.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fail(fmt.Sprintf("Content-Type %q, want application/json", ct))
	}
	return nil
}

// oasApplyTolerances removes the schema failures tolerate excuses, and
// returns the tolerances that excused nothing.
func oasApplyTolerances(errs []*verrors.ValidationError, tolerate []oasTolerance) ([]*verrors.ValidationError, []oasTolerance) {
	used := make([]bool, len(tolerate))
	var out []*verrors.ValidationError
	for _, e := range errs {
		if len(e.SchemaValidationErrors) == 0 {
			out = append(out, e)
			continue
		}
		var left []*verrors.SchemaValidationFailure
		for _, f := range e.SchemaValidationErrors {
			excused := false
			for i, tol := range tolerate {
				if f.FieldPath == tol.field && strings.HasSuffix(f.KeywordLocation, "/"+tol.keyword) {
					used[i], excused = true, true
				}
			}
			if !excused {
				left = append(left, f)
			}
		}
		if len(left) > 0 {
			c := *e
			c.SchemaValidationErrors = left
			out = append(out, &c)
		}
	}
	var unused []oasTolerance
	for i, tol := range tolerate {
		if !used[i] {
			unused = append(unused, tol)
		}
	}
	return out, unused
}

func oasDescribe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  - %s", e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			fmt.Fprintf(&b, ": %s", e.Reason)
		}
		b.WriteString("\n")
		for _, f := range e.SchemaValidationErrors {
			field := f.FieldPath
			if field == "" {
				field = "$"
			}
			reason := f.Reason
			if len(reason) > 240 { // enums of every country or timezone
				reason = reason[:240] + "..."
			}
			fmt.Fprintf(&b, "      %s: %s  [%s]\n", field, reason, f.KeywordLocation)
		}
	}
	return b.String()
}

func oasTruncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// The three specs, with their path mappings and amendments.

var oasLago = &oasSpec{
	name: "Lago",
	file: "lago-openapi.yaml",
	keep: []string{"/customers", "/customers/{external_customer_id}"},
	// The spec's servers end in /api/v1; its paths are relative to that.
	specPath: func(p string) (string, error) {
		rest, ok := strings.CutPrefix(p, "/api/v1/")
		if !ok {
			return "", fmt.Errorf("%s is not below /api/v1/", p)
		}
		return "/" + rest, nil
	},
	amend: []oasAmendment{
		// Rails sets no body limit (the proxy in front answers 413 in its
		// own words); paysync refuses bodies over 1 MiB in Lago's error
		// shape with Rack's reason phrase.
		oasAddResponse("/customers", "post", "413", "paysync's body limit, in Lago's error shape", `
description: Payload Too Large (paysync)
content:
  application/json:
    schema:
      type: object
      required: [status, error]
      properties:
        status: {type: integer, enum: [413]}
        error: {type: string, enum: [Payload Too Large]}`),
	},
}

var oasLotus = &oasSpec{
	name: "Lotus",
	file: "lotus-openapi.yaml",
	keep: []string{"/api/customers/", "/api/customers/{customer_id}/", "/api/customers/{customer_id}/delete/"},
	// Lotus's paths are the URLs themselves, each with Django's trailing
	// slash; paysync also takes POST /api/customers without it.
	specPath: func(p string) (string, error) {
		if !strings.HasPrefix(p, "/api/customers") {
			return "", fmt.Errorf("%s is not below /api/customers", p)
		}
		if !strings.HasSuffix(p, "/") {
			p += "/"
		}
		return p, nil
	},
	amend: oasLotusAmendments(),
}

// oasLotusAmendments documents Lotus's errors: its spec lists none for the
// customer operations, yet every one can fail. Lotus renders every error
// through drf-standardized-errors with its RFC7807Formatter
// (metering_billing/exceptions/handler.py): type, detail, title (the first
// error's code), and validation_errors [{code, detail, attr}] for
// validation errors or several errors.
func oasLotusAmendments() []oasAmendment {
	problem := `
description: an error, in Lotus's RFC 7807 shape
content:
  application/json:
    schema: {$ref: '#/components/schemas/PaysyncLotusProblem'}`
	a := []oasAmendment{
		oasAddSchema("PaysyncLotusProblem", `
type: object
required: [type, detail, title]
properties:
  type:
    type: string
    enum:
      - https://docs.uselotus.io/errors/error-responses#validation-error
      - https://docs.uselotus.io/errors/error-responses#client-error
      - https://docs.uselotus.io/errors/error-responses#server-error
  detail: {type: string}
  title: {type: string, minLength: 1}
  validation_errors:
    type: array
    minItems: 1
    items:
      type: object
      required: [code, detail, attr]
      properties:
        code: {type: string, minLength: 1}
        detail: {type: string}
        attr: {type: string, nullable: true}`),
		// DRF's 400s: a validation error, a parse error, and Lotus's
		// DuplicateCustomer (a client error titled duplicate_resource).
		oasAddResponse("/api/customers/", "post", "400", "DRF validation, parse and duplicate errors", problem),
		// Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE itself;
		// paysync answers 413 in the formatter's shape.
		oasAddResponse("/api/customers/", "post", "413", "paysync's body limit", problem),
		// DRF's Http404 for an unknown customer_id.
		oasAddResponse("/api/customers/{customer_id}/", "get", "404", "unknown customer", problem),
		oasAddResponse("/api/customers/{customer_id}/delete/", "post", "404", "unknown customer", problem),
	}
	// knox and DRF answer 401 (not_authenticated, authentication_failed).
	for _, op := range [][2]string{
		{"/api/customers/", "post"}, {"/api/customers/", "get"},
		{"/api/customers/{customer_id}/", "get"}, {"/api/customers/{customer_id}/delete/", "post"},
	} {
		a = append(a, oasAddResponse(op[0], op[1], "401", "no or a wrong API key", problem))
	}
	return a
}

var oasFlexprice = &oasSpec{
	name: "Flexprice",
	file: "flexprice-openapi.json",
	keep: []string{"/customers", "/customers/{id}", "/customers/external/{external_id}", "/customers/search"},
	// The spec's servers end in /v1; its paths are relative to that.
	specPath: func(p string) (string, error) {
		rest, ok := strings.CutPrefix(p, "/v1/")
		if !ok {
			return "", fmt.Errorf("%s is not below /v1/", p)
		}
		return "/" + rest, nil
	},
	amend: oasFlexpriceAmendments(),
}

// oasFlexpriceAmendments documents what Flexprice answers beyond its spec.
func oasFlexpriceAmendments() []oasAmendment {
	errorResponse := func(what string) string {
		return `
description: ` + what + `
content:
  application/json:
    schema: {$ref: '#/components/schemas/errors.ErrorResponse'}`
	}
	a := []oasAmendment{
		// The spec lists no 409, but Flexprice answers ErrAlreadyExists
		// (409, code already_exists) for a duplicate external_id.
		oasAddResponse("/customers", "post", "409", "duplicate external_id", errorResponse("Conflict")),
		// paysync's body limit, in the ErrorResponse shape.
		oasAddResponse("/customers", "post", "413", "paysync's body limit", errorResponse("Payload Too Large")),
		// Flexprice's router serves GET /customers (the filter in the query
		// string, answering ListCustomersResponse); the spec omits it.
		oasAddOperation("/customers", "get", "Flexprice's list route", `
operationId: paysyncListCustomers
responses:
  "200":
    description: OK
    content:
      application/json:
        schema: {$ref: '#/components/schemas/ListCustomersResponse'}
  "400":
    description: Invalid request
    content:
      application/json:
        schema: {$ref: '#/components/schemas/errors.ErrorResponse'}`),
		// ErrNotFound is 404 for every lookup by id; the spec documents it
		// for the external-id lookup only.
		oasAddResponse("/customers/{id}", "get", "404", "unknown id", errorResponse("Resource not found")),
		oasAddResponse("/customers/{id}", "delete", "404", "unknown id", errorResponse("Resource not found")),
		oasAddResponse("/customers", "put", "404", "unknown id", errorResponse("Resource not found")),
		// Where the spec, the server and @flexprice/sdk 2.0.1 disagree,
		// paysync serves the superset:
		//  - the SDK's CustomerResponse declares parent_customer_id and
		//    parent_customer, which the spec and the server's dto omit; its
		//    zod 4 schema refuses a response without them, so paysync sends
		//    both, null (it has no customer hierarchy);
		//  - the server writes the flat errors.ErrorResponse (code, message,
		//    http_status_code, details; details is swaggerignore'd out of the
		//    spec) while the SDK parses the envelope {success, error: {message,
		//    internal_error}}; paysync sends both in one body, every key
		//    present (the SDK's schema requires them too).
		oasAddProperty("CustomerResponse", "parent_customer_id", "the SDK's model", `{type: string, nullable: true}`),
		// The SDK types parent_customer as a CustomerResponse; the
		// validator cannot render a schema that refers to itself, so the
		// amendment says object.
		oasAddProperty("CustomerResponse", "parent_customer", "the SDK's model", `{type: object, nullable: true}`),
		oasRequire("CustomerResponse", "the SDK's zod 4 schema refuses a missing key",
			"id", "external_id", "name", "email", "address_line1", "address_line2", "address_city", "address_state",
			"address_postal_code", "address_country", "metadata", "environment_id", "tenant_id", "status",
			"created_at", "updated_at", "created_by", "updated_by", "parent_customer_id", "parent_customer"),
		oasAddProperty("errors.ErrorResponse", "details", "the server's struct (swaggerignore)", `{type: object}`),
		oasAddProperty("errors.ErrorResponse", "success", "the SDK's envelope", `{type: boolean, enum: [false]}`),
		oasAddProperty("errors.ErrorResponse", "error", "the SDK's envelope", `
type: object
required: [message, internal_error]
properties:
  message: {type: string}
  internal_error: {type: string}`),
		oasRequire("errors.ErrorResponse", "both shapes in every error body",
			"code", "message", "http_status_code", "success", "error"),
		oasAddSchema("PaysyncFlexpriceAuthError", `
type: object
required: [error]
properties:
  error: {type: string, minLength: 1}
  message: {type: string}
  http_status_code: {type: integer, enum: [401]}
  success: {type: boolean, enum: [false]}`),
	}
	// Flexprice's AuthenticateMiddleware answers 401 {"error": "Unauthorized"}
	// before its error handler runs: not the ErrorResponse shape.
	for _, op := range [][2]string{
		{"/customers", "post"}, {"/customers", "get"}, {"/customers", "put"},
		{"/customers/{id}", "get"}, {"/customers/{id}", "delete"},
		{"/customers/external/{external_id}", "get"}, {"/customers/search", "post"},
	} {
		a = append(a, oasAddResponse(op[0], op[1], "401", "no or a wrong API key", `
description: Unauthorized
content:
  application/json:
    schema: {$ref: '#/components/schemas/PaysyncFlexpriceAuthError'}`))
	}
	return a
}
