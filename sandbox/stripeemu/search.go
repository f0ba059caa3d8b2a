package stripeemu

import (
	"strconv"
	"strings"
	"unicode"
)

// A search query in Stripe's query language, the customer subset:
//
//	email:'a@example.com' AND metadata['k']:'v'
//	-name~'ann' OR phone:'+331'
//	created>1700000000
//
// Clauses join with AND or OR, never both; ':' is an exact match and '~' a
// substring match (3 characters at least), both case-insensitive; '-'
// negates; created compares with = > < >= <=.
type query struct {
	or      bool
	clauses []clause
}

type clause struct {
	negate bool
	field  string // email, name, phone, created, metadata
	key    string // the metadata key
	op     string // : ~ > < >= <= =
	value  string
	number int64
}

// searchable lists the customer fields Stripe's search accepts.
var searchable = map[string]bool{"created": true, "email": true, "metadata": true, "name": true, "phone": true}

// parseQuery parses q, or returns the invalid_request_error Stripe would.
func parseQuery(q string) (*query, *apiError) {
	p := &queryParser{s: q}
	out := &query{}
	var join string
	for {
		p.space()
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		out.clauses = append(out.clauses, c)
		if len(out.clauses) > 10 {
			return nil, invalid("query", "Search queries can have at most 10 clauses.")
		}
		if !p.space() {
			if p.i == len(p.s) {
				break
			}
			return nil, p.fail()
		}
		if p.i == len(p.s) {
			break
		}
		word := p.word()
		if word != "AND" && word != "OR" {
			return nil, p.fail()
		}
		if join != "" && word != join {
			return nil, invalid("query", "Search queries cannot mix AND and OR clauses.")
		}
		join = word
		if !p.space() {
			return nil, p.fail()
		}
	}
	out.or = join == "OR"
	return out, nil
}

type queryParser struct {
	s string
	i int
}

func (p *queryParser) fail() *apiError {
	return invalid("query", "Invalid query syntax near position %d: %q.", p.i, p.s)
}

// space skips blanks and reports whether there were any.
func (p *queryParser) space() bool {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
	return p.i > start
}

func (p *queryParser) word() string {
	start := p.i
	for p.i < len(p.s) && (unicode.IsLetter(rune(p.s[p.i])) || p.s[p.i] == '_') {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *queryParser) clause() (clause, *apiError) {
	var c clause
	if p.i < len(p.s) && p.s[p.i] == '-' {
		c.negate = true
		p.i++
	}
	c.field = p.word()
	if c.field == "" {
		return c, p.fail()
	}
	if !searchable[c.field] {
		return c, invalid("query", "Field `%s` is an unsupported search field for resource `customers`. See https://stripe.com/docs/search#query-fields-for-customers for a list of supported fields.", c.field)
	}
	if c.field == "metadata" {
		if !strings.HasPrefix(p.s[p.i:], "[") {
			return c, p.fail()
		}
		p.i++
		key, err := p.quoted()
		if err != nil {
			return c, err
		}
		if !strings.HasPrefix(p.s[p.i:], "]") {
			return c, p.fail()
		}
		p.i++
		c.key = key
	}
	for _, op := range []string{">=", "<=", ":", "~", ">", "<", "="} {
		if strings.HasPrefix(p.s[p.i:], op) {
			c.op = op
			p.i += len(op)
			break
		}
	}
	if c.field == "created" {
		if c.op == "~" || c.op == "" {
			return c, p.fail()
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return c, p.fail()
		}
		c.number = n
		return c, nil
	}
	if c.op != ":" && c.op != "~" {
		return c, p.fail()
	}
	v, err := p.quoted()
	if err != nil {
		return c, err
	}
	if c.op == "~" && len([]rune(v)) < 3 {
		return c, invalid("query", "Substring matches (~) need at least 3 characters.")
	}
	c.value = v
	return c, nil
}

// quoted reads a string in single or double quotes, with backslash escapes.
func (p *queryParser) quoted() (string, *apiError) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", p.fail()
	}
	quote := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		ch := p.s[p.i]
		switch {
		case ch == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case ch == quote:
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(ch)
			p.i++
		}
	}
	return "", p.fail()
}

func (q *query) match(c *Customer) bool {
	for _, cl := range q.clauses {
		ok := cl.match(c) != cl.negate
		if q.or && ok {
			return true
		}
		if !q.or && !ok {
			return false
		}
	}
	return !q.or
}

func (cl *clause) match(c *Customer) bool {
	var have string
	switch cl.field {
	case "created":
		switch cl.op {
		case ">":
			return c.Created > cl.number
		case "<":
			return c.Created < cl.number
		case ">=":
			return c.Created >= cl.number
		case "<=":
			return c.Created <= cl.number
		default:
			return c.Created == cl.number
		}
	case "email":
		have = c.Email
	case "name":
		have = c.Name
	case "phone":
		have = c.Phone
	case "metadata":
		v, ok := c.Metadata[cl.key]
		if !ok {
			return false
		}
		have = v
	}
	if cl.op == "~" {
		return strings.Contains(strings.ToLower(have), strings.ToLower(cl.value))
	}
	return strings.EqualFold(have, cl.value)
}
