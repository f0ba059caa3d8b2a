package adyenemu

import (
	"net/http"

	"github.com/paysync/paysync/sandbox/seed"
)

// NoCustomers is why POST /_sandbox/seed is refused: the other emulators
// seed customers for an import to adopt, and Adyen has nothing to import.
const NoCustomers = "Adyen has no customer object: a shopper exists only as the shopperReference of its stored payment methods, " +
	"and Adyen cannot list shoppers, so there is nothing to seed and nothing an import could read. " +
	"Seed the stripe, gocardless or braintree emulator instead."

// serveSeed is POST /_sandbox/seed.
func serveSeed(w http.ResponseWriter, _ *http.Request) {
	seed.Refuse(w, http.StatusUnprocessableEntity, NoCustomers)
}
