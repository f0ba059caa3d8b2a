// Package seed is what the emulators' POST /_sandbox/seed shares: the
// request, the customers it describes and the answer. Seeded customers are
// numbered: "Customer 00042", customer-00042@example.test and, with an
// external id prefix, metadata external_id "ext-00042", so that a user who
// created paysync customers with external ids ext-00001... can seed
// provider customers that an import matches to them.
package seed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
)

// MaxCount is the most customers one request seeds.
const MaxCount = 100_000

// Request is the body of POST /_sandbox/seed.
type Request struct {
	// Count is how many customers to create, 1 to MaxCount.
	Count int `json:"count"`
	// Start is the number of the first one; 0 continues after the
	// customers the emulator already has, so seeding twice never repeats
	// a name or an email.
	Start int `json:"start,omitempty"`
	// EmailDomain is the domain of the emails, example.test by default.
	EmailDomain string `json:"email_domain,omitempty"`
	// ExternalIDPrefix, when set, writes metadata external_id =
	// prefix + the customer's number, as another integration would have.
	ExternalIDPrefix string `json:"external_id_prefix,omitempty"`
	// Metadata is written on every customer.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Customer is one customer a request describes.
type Customer struct {
	Number int
	// GivenName and FamilyName make up Name, for providers that split it.
	GivenName, FamilyName, Name, Email string
	// Metadata is nil when the request asked for none.
	Metadata map[string]string
}

// Customers returns the customers of q, numbered from q.Start or, when it
// is 0, from existing+1.
func (q Request) Customers(existing int) []Customer {
	start := q.Start
	if start == 0 {
		start = existing + 1
	}
	out := make([]Customer, q.Count)
	for i := range out {
		n := start + i
		num := fmt.Sprintf("%05d", n)
		c := Customer{Number: n, GivenName: "Customer", FamilyName: num, Name: "Customer " + num,
			Email: "customer-" + num + "@" + q.EmailDomain}
		if q.ExternalIDPrefix != "" || len(q.Metadata) > 0 {
			c.Metadata = make(map[string]string, len(q.Metadata)+1)
			for k, v := range q.Metadata {
				c.Metadata[k] = v
			}
			if q.ExternalIDPrefix != "" {
				c.Metadata["external_id"] = q.ExternalIDPrefix + num
			}
		}
		out[i] = c
	}
	return out
}

// Decode reads and checks the request; on bad input it answers 400 or 422
// naming the field and returns false.
func Decode(w http.ResponseWriter, r *http.Request) (Request, bool) {
	var q Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		Refuse(w, http.StatusBadRequest, "body: "+err.Error())
		return q, false
	}
	if q.EmailDomain == "" {
		q.EmailDomain = "example.test"
	}
	var problem string
	switch {
	case q.Count < 1 || q.Count > MaxCount:
		problem = fmt.Sprintf("count: must be between 1 and %d", MaxCount)
	case q.Start < 0:
		problem = "start: must not be negative"
	case !validDomain(q.EmailDomain):
		problem = "email_domain: not a valid email domain"
	case len(q.ExternalIDPrefix) > 200:
		problem = "external_id_prefix: at most 200 characters"
	case len(q.Metadata) > 40:
		problem = "metadata: at most 40 keys"
	}
	for k, v := range q.Metadata {
		if problem == "" && (k == "" || len(k) > 40 || len(v) > 500) {
			problem = "metadata: keys of 1 to 40 characters, values of at most 500"
		}
	}
	if problem != "" {
		Refuse(w, http.StatusUnprocessableEntity, problem)
		return q, false
	}
	return q, true
}

func validDomain(d string) bool {
	a, err := mail.ParseAddress("x@" + d)
	return err == nil && a.Address == "x@"+d && strings.Contains(d, ".")
}

// Answer is the reply to a seed: how many were created and the first few
// ids, to try one.
type Answer struct {
	Created int      `json:"created"`
	First   int      `json:"first_number"`
	Last    int      `json:"last_number"`
	IDs     []string `json:"ids"`
}

// shownIDs is how many ids an answer lists.
const shownIDs = 10

// Reply answers 201 with the seeded customers, whose ids are ids.
func Reply(w http.ResponseWriter, cs []Customer, ids []string) {
	a := Answer{Created: len(ids), IDs: ids[:min(shownIDs, len(ids))]}
	if len(cs) > 0 {
		a.First, a.Last = cs[0].Number, cs[len(cs)-1].Number
	}
	writeJSON(w, http.StatusCreated, a)
}

// Unsaved answers 503 for a seed whose customers could not be saved: the
// emulator forgot them again, and the request may be retried.
func Unsaved(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	Refuse(w, http.StatusServiceUnavailable, "the seeded customers could not be saved, none was created: "+err.Error())
}

// Refuse answers status with {"error": {"message": ...}}.
func Refuse(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
