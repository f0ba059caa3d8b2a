package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/egress"
)

// Reasons of a string paysync refuses to rewrite.
const (
	// reasonNullCharacter is DRF's code: PostgreSQL cannot store NUL.
	reasonNullCharacter = "null_characters_not_allowed"
	// reasonInvalidText is invalid UTF-8, or a \u escape of half a
	// surrogate pair: text no database column holds as sent.
	reasonInvalidText = "invalid_utf8"
)

// checkText refuses a JSON body holding a string (a value or a key) that
// paysync could only store rewritten: with NUL, invalid UTF-8 or a lone
// surrogate escape, all of which encoding/json would silently drop or
// replace with U+FFFD. The error names the field by its JSON path
// ("customer.billing_configuration.payment_provider", "metadata[2].key").
// It runs on the raw bytes, before any decoding; a body that is not valid
// JSON is left to the dialect's decoder to refuse.
func checkText(body []byte) error {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) && !bytes.Contains(body, []byte(`\U`)) {
		return nil // nothing to find: the common case costs one pass
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	prev := int64(0)
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or malformed: the dialect's decoder answers
		}
		end := dec.InputOffset()
		raw := body[prev:end]
		prev = end
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				stack = append(stack, &frame{path: top.childPath(), object: tok == '{', index: -1})
				top.valueDone()
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.object && top.key == nil {
				if reason := badString(raw); reason != "" {
					return textError(joinPath(top.path, strconv.QuoteToASCII(tok)), reason)
				}
				top.key = &tok
				continue
			}
			if reason := badString(raw); reason != "" {
				return textError(top.childPath(), reason)
			}
		}
		top.valueDone()
	}
}

// frame is one open object or array of the walk.
type frame struct {
	path   string
	object bool
	key    *string // the member being read; nil while a key is expected
	index  int     // the array element being read
}

// childPath is the path of the value being read in f; "" at the top.
func (f *frame) childPath() string {
	switch {
	case f == nil:
		return ""
	case f.object:
		k := ""
		if f.key != nil {
			k = *f.key
		}
		return joinPath(f.path, k)
	default:
		return f.path + "[" + strconv.Itoa(f.index+1) + "]"
	}
}

// valueDone moves f past the value just read.
func (f *frame) valueDone() {
	if f == nil {
		return
	}
	if f.object {
		f.key = nil
	} else {
		f.index++
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func textError(field, reason string) error {
	if field == "" {
		field = "base"
	}
	msg := "invalid UTF-8 or an unpaired surrogate in " + field
	if reason == reasonNullCharacter {
		msg = "Null characters are not allowed." // DRF's words
	}
	return &paysync.Error{Code: paysync.EINVALID, Message: msg, Fields: map[string][]string{field: {reason}}}
}

// badString returns why the raw JSON string literal in raw (after any
// delimiters) cannot be kept as sent, "" when it can.
func badString(raw []byte) string {
	if !utf8.Valid(raw) {
		return reasonInvalidText
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		i++
		if raw[i] != 'u' {
			continue
		}
		r, ok := hex4(raw[i+1:])
		if !ok {
			continue // malformed: the decoder already refused it
		}
		i += 4
		switch {
		case r == 0:
			return reasonNullCharacter
		case r >= 0xDC00 && r <= 0xDFFF:
			return reasonInvalidText // a low surrogate with no high one before it
		case r >= 0xD800 && r <= 0xDBFF:
			next := raw[i+1:]
			if len(next) < 6 || next[0] != '\\' || next[1] != 'u' {
				return reasonInvalidText
			}
			low, ok := hex4(next[2:])
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return reasonInvalidText
			}
			i += 6
		}
	}
	return ""
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(n), err == nil
}

// withoutEnvelope renames the fields of a text error found under the
// request's envelope object ("customer.") as the dialect names them.
func withoutEnvelope(err error, envelope string) error {
	e, ok := err.(*paysync.Error)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	c := *e
	c.Fields = make(map[string][]string, len(e.Fields))
	for k, v := range e.Fields {
		c.Fields[strings.TrimPrefix(k, envelope)] = v
	}
	return &c
}

// checkEgress is the reason a webhook URL is refused, "" when allowed.
func checkEgress(ctx context.Context, policy egress.Policy, url string) string {
	var r *egress.Refusal
	if err := policy.CheckURL(ctx, url); errors.As(err, &r) {
		return r.Reason
	} else if err != nil {
		return reasonURL
	}
	return ""
}
