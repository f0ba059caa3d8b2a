package braintreeemu_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/braintreeemu"
)

// TestNodeSDK checks the emulator against Braintree's official Node SDK
// (braintree 3.40.0): what the SDK sends must be understood, and what the
// emulator answers must parse into the SDK's own objects.
func TestNodeSDK(t *testing.T) {
	t.Parallel()
	emu := braintreeemu.New()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	// More customers than the SDK fetches in one page of a search.
	res, err := http.Post(srv.URL+"/_sandbox/seed", "application/json", strings.NewReader(`{"count": 60}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	out := testenv.Node(t, "braintree.js",
		"BRAINTREE_URL="+srv.URL,
		"BRAINTREE_MERCHANT_ID="+braintreeemu.MerchantID,
		"BRAINTREE_PUBLIC_KEY="+braintreeemu.PublicKey,
		"BRAINTREE_PRIVATE_KEY="+braintreeemu.PrivateKey,
		"CUSTOMER_ID=ps_sdk-check_1",
	)

	type method struct {
		Token   string `json:"token"`
		Kind    string `json:"kind"`
		Default bool   `json:"default"`
		Last4   string `json:"last4"`
	}
	type customer struct {
		ID             string   `json:"id"`
		FirstName      string   `json:"firstName"`
		LastName       string   `json:"lastName"`
		Company        string   `json:"company"`
		Email          string   `json:"email"`
		CreatedAt      string   `json:"createdAt"`
		PaymentMethods []method `json:"paymentMethods"`
	}
	var got struct {
		Created   customer `json:"created"`
		Duplicate struct {
			Success bool   `json:"success"`
			Message string `json:"message"`
			Errors  []struct {
				Code      string `json:"code"`
				Attribute string `json:"attribute"`
			} `json:"errors"`
		} `json:"duplicate"`
		Found   customer `json:"found"`
		Vaulted struct {
			Success      bool   `json:"success"`
			Kind         string `json:"kind"`
			Token        string `json:"token"`
			CustomerID   string `json:"customerId"`
			CardType     string `json:"cardType"`
			MaskedNumber string `json:"maskedNumber"`
			Default      bool   `json:"default"`
		} `json:"vaulted"`
		Again       customer `json:"again"`
		MethodFound struct {
			Token      string `json:"token"`
			CustomerID string `json:"customerId"`
		} `json:"methodFound"`
		BadNonce struct {
			Success bool     `json:"success"`
			Codes   []string `json:"codes"`
		} `json:"badNonce"`
		Search []struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"search"`
		EmptySearch     []any  `json:"emptySearch"`
		NotFound        string `json:"notFound"`
		BadKey          string `json:"badKey"`
		Deleted         string `json:"deleted"`
		GoneAfterDelete string `json:"goneAfterDelete"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode SDK output: %v\n%s", err, out)
	}

	want := customer{ID: "ps_sdk-check_1", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines", Email: "ada@example.com"}
	for name, c := range map[string]customer{"created": got.Created, "found": got.Found} {
		if c.ID != want.ID || c.FirstName != want.FirstName || c.LastName != want.LastName ||
			c.Company != want.Company || c.Email != want.Email {
			t.Errorf("%s customer = %+v, want %+v", name, c, want)
		}
		if c.CreatedAt == "" {
			t.Errorf("%s customer has no createdAt", name)
		}
		if len(c.PaymentMethods) != 0 {
			t.Errorf("%s customer has payment methods %+v, want none", name, c.PaymentMethods)
		}
	}

	d := got.Duplicate
	if d.Success || d.Message != "Customer ID has already been taken." || len(d.Errors) != 1 || d.Errors[0].Code != "91609" {
		t.Errorf("duplicate create = %+v, want failure with code 91609 on id", d)
	}

	v := got.Vaulted
	if !v.Success || v.Kind != "CreditCard" || v.Token == "" || v.CustomerID != want.ID || v.CardType != "Visa" || !v.Default {
		t.Errorf("vaulted payment method = %+v", v)
	}
	if v.MaskedNumber != "401288******1881" {
		t.Errorf("masked number = %q, want the fake-valid-nonce Visa 401288******1881", v.MaskedNumber)
	}
	if pms := got.Again.PaymentMethods; len(pms) != 1 || pms[0].Token != v.Token || pms[0].Kind != "CreditCard" || !pms[0].Default || pms[0].Last4 != "1881" {
		t.Errorf("customer after vaulting has payment methods %+v, want the one card %s", pms, v.Token)
	}
	if got.Again.Email != want.Email {
		t.Errorf("customer after vaulting has email %q", got.Again.Email)
	}
	if got.MethodFound.Token != v.Token || got.MethodFound.CustomerID != want.ID {
		t.Errorf("paymentMethod.find = %+v", got.MethodFound)
	}
	if got.BadNonce.Success || len(got.BadNonce.Codes) != 1 || got.BadNonce.Codes[0] != "93108" {
		t.Errorf("unknown nonce = %+v, want failure 93108", got.BadNonce)
	}
	// The SDK's search walks two pages of ids: the 60 seeded and Ada.
	emails := map[string]bool{}
	for _, c := range got.Search {
		emails[c.Email] = true
	}
	if len(got.Search) != 61 || len(emails) != 61 || !emails[want.Email] || !emails["customer-00060@example.test"] {
		t.Errorf("search by createdAt found %d customers (%d emails), want the 60 seeded and Ada", len(got.Search), len(emails))
	}
	if len(got.EmptySearch) != 0 {
		t.Errorf("search of 2001 found %v", got.EmptySearch)
	}
	for name, pair := range map[string][2]string{
		"find unknown customer": {got.NotFound, "notFoundError"},
		"wrong private key":     {got.BadKey, "authenticationError"},
		"delete":                {got.Deleted, "none"},
		"find after delete":     {got.GoneAfterDelete, "notFoundError"},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: SDK error %q, want %q", name, pair[0], pair[1])
		}
	}
	if n := emu.CustomerCount(); n != 60 {
		t.Errorf("CustomerCount after delete = %d, want the 60 seeded", n)
	}
}
