package adyenemu_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paysync/paysync/sandbox/adyenemu"
)

// Adyen has no customers: a seed is refused with the reason.
func TestSeedIsRefused(t *testing.T) {
	srv := httptest.NewServer(adyenemu.New())
	defer srv.Close()
	res, err := http.Post(srv.URL+"/_sandbox/seed", "application/json", strings.NewReader(`{"count": 10}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Error struct{ Message string } }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusUnprocessableEntity || body.Error.Message != adyenemu.NoCustomers {
		t.Errorf("seed: %d %q", res.StatusCode, body.Error.Message)
	}
}
