package braintree_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers/braintree"
)

// The adapter lists seeded customers across pages and created_at windows,
// each once; a customer created after the first page is not listed.
func TestListCustomers(t *testing.T) {
	p, _, srv := start(t)
	t.Cleanup(braintree.SetWindowIDs(40)) // 120 customers a second apart: several windows
	res, err := http.Post(srv.URL+"/_sandbox/seed", "application/json", strings.NewReader(`{"count": 120}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("seed: %d", res.StatusCode)
	}

	ctx := context.Background()
	seen := map[string]string{} // email -> id
	pages := 0
	var cursor string
	for {
		page, err := p.ListCustomers(ctx, cursor, 25)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range page.Customers {
			if prev, dup := seen[c.Email]; dup {
				t.Fatalf("%s listed twice (%s, %s)", c.Email, prev, c.ID)
			}
			seen[c.Email] = c.ID
		}
		if pages == 1 {
			late, err := sdk(srv).Customer().Create(ctx, &bt.CustomerRequest{FirstName: "Late", Email: "late@example.test"})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("created %s after the first page", late.Id)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(seen) != 120 || pages < 5 {
		t.Errorf("listed %d customers in %d pages, want 120 in at least 5", len(seen), pages)
	}
	for n := 1; n <= 120; n++ {
		if email := fmt.Sprintf("customer-%05d@example.test", n); seen[email] == "" {
			t.Errorf("%s not listed", email)
		}
	}
	if _, listed := seen["late@example.test"]; listed {
		t.Error("the customer created after the first page was listed")
	}
}

// A cursor that is not one is refused, not read as the start.
func TestListCustomersRefusesABadCursor(t *testing.T) {
	p, _, _ := start(t)
	_, err := p.ListCustomers(context.Background(), "bm90IGEgY3Vyc29y", 10)
	var pe *paysync.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_cursor" || pe.Retryable {
		t.Errorf("bad cursor: %v", err)
	}
}
