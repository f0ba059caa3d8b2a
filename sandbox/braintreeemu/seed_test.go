package braintreeemu_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync/sandbox/braintreeemu"
	"github.com/paysync/paysync/sandbox/state/statetest"
)

// Seeded customers are found by a created_at search, a second apart, and
// kept across a restart; metadata is refused, Braintree has none.
func TestSeed(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		boot := func() (*httptest.Server, *bt.Braintree) {
			_, srv := statetest.Boot(t, db, "braintree", braintreeemu.NewWithState)
			return srv, bt.NewWithHttpClient(bt.NewEnvironment(srv.URL), braintreeemu.MerchantID, braintreeemu.PublicKey, braintreeemu.PrivateKey, srv.Client())
		}
		seed := func(srv *httptest.Server, body string) int {
			res, err := http.Post(srv.URL+"/_sandbox/seed", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		search := func(gw *bt.Braintree) (*bt.SearchResult, *bt.SearchQuery) {
			q := new(bt.SearchQuery)
			f := q.AddTimeField("created-at")
			f.Min, f.Max = time.Now().Add(-2*time.Hour), time.Now().Add(time.Minute)
			ids, err := gw.Customer().SearchIDs(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return ids, q
		}

		srv, _ := boot()
		if status := seed(srv, `{"count": 1000}`); status != http.StatusCreated {
			t.Fatalf("seed: %d", status)
		}
		if status := seed(srv, `{"count": 1, "external_id_prefix": "ext-"}`); status != http.StatusUnprocessableEntity {
			t.Errorf("seed with metadata: %d, want 422", status)
		}
		_, gw := boot()
		ids, q := search(gw)
		if len(ids.IDs) != 1000 || ids.PageSize != 50 || ids.PageCount != 20 {
			t.Fatalf("after a restart the search found %d ids in %d pages of %d, want 1000 in 20 of 50", len(ids.IDs), ids.PageCount, ids.PageSize)
		}
		page, err := gw.Customer().SearchPage(ctx, q, ids, 1)
		if err != nil {
			t.Fatal(err)
		}
		first, second := page.Customers[0], page.Customers[1]
		if len(page.Customers) != 50 || first.Email != "customer-00001@example.test" || first.FirstName != "Customer" || first.LastName != "00001" ||
			second.CreatedAt.Sub(*first.CreatedAt) != time.Second {
			t.Errorf("first page: %d customers, oldest %+v, next %+v", len(page.Customers), first, second)
		}
	})
}
