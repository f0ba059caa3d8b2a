package store_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/store"
)

// eachDialect runs test against a fresh, migrated database of each dialect.
func eachDialect(t *testing.T, test func(t *testing.T, db *store.DB)) {
	eachDialectAt(t, 0, test)
}

// eachDialectAt is eachDialect with the migrations up to version only (all
// of them at 0): upgrade tests populate an old schema, then migrate.
func eachDialectAt(t *testing.T, version int, test func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, openDB(t, filepath.Join(t.TempDir(), "paysync.db"), version))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, openDB(t, testenv.PostgresURL(t), version))
	})
}

func openDB(t testing.TB, dsn string, version int) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MigrateTo(ctx, version); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// put upserts c as given, replacing whatever is stored but the ids.
func put(t testing.TB, db *store.DB, c *paysync.Customer) (*paysync.Customer, bool) {
	t.Helper()
	got, created, err := db.UpsertCustomer(context.Background(), c.OrganizationID, c.ExternalID,
		func(existing *paysync.Customer) (*paysync.Customer, error) {
			cp := *c
			if existing != nil {
				cp.ID = existing.ID
				if cp.Link != nil && existing.Link != nil {
					l := *cp.Link
					l.ID = existing.Link.ID
					cp.Link = &l
				}
			}
			return &cp, nil
		})
	if err != nil {
		t.Fatalf("upsert %s: %v", c.ExternalID, err)
	}
	return got, created
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := paysync.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func sameCustomer(t testing.TB, what string, got, want *paysync.Customer) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func ptr[T any](v T) *T { return &v }

// fullCustomer sets every field, the link's included.
func fullCustomer(org, ext string) *paysync.Customer {
	synced := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	return &paysync.Customer{
		OrganizationID:            org,
		ExternalID:                ext,
		Name:                      "Acme GmbH",
		FirstName:                 "Ada",
		LastName:                  "Lovelace",
		CustomerType:              "company",
		AccountType:               "customer",
		LegalName:                 "Acme Gesellschaft mbH",
		LegalNumber:               "HRB 1234",
		TaxIdentificationNumber:   "DE123456789",
		Email:                     "Billing@Acme.example",
		Phone:                     "+49 30 1234567",
		URL:                       "https://acme.example",
		LogoURL:                   "https://acme.example/logo.png",
		Currency:                  "EUR",
		Timezone:                  "Europe/Berlin",
		NetPaymentTerm:            ptr(30),
		FinalizeZeroAmountInvoice: "skip",
		TaxCodes:                  []string{"vat_19", "vat_7"},
		TaxRate:                   ptr(19.5),
		BillingAddress:            paysync.Address{Line1: "Hauptstr. 1", Line2: "Hinterhaus", City: "Berlin", State: "BE", PostalCode: "10115", Country: "DE"},
		ShippingAddress:           paysync.Address{Line1: "Lager 2", City: "Hamburg", PostalCode: "20095", Country: "DE"},
		Metadata: []paysync.Metadata{
			{Key: "plan", Value: "gold", DisplayInInvoice: true},
			{Key: "seats", Value: "12"},
		},
		Properties:             []byte(`{"tier":"gold","limits":{"seats":12}}`),
		InvoiceGracePeriod:     ptr(3),
		DocumentLocale:         "de",
		ProviderPaymentMethods: []string{"card", "sepa_debit"},
		Link: &paysync.ProviderLink{
			Provider:           paysync.Stripe,
			ConnectionCode:     "stripe_eu",
			ProviderCustomerID: "cus_123",
			LinkOnly:           true,
			SyncWithProvider:   true,
			HasPaymentMethod:   true,
			Generation:         4,
			State:              paysync.SyncFailed,
			LastError: &paysync.ProviderError{Provider: paysync.Stripe, Code: "rate_limited", Message: "slow down",
				HTTPStatus: 429, Retryable: true, RetryAfter: 1500 * time.Millisecond},
			Attempts:     7,
			PendingSince: time.Date(2024, 5, 6, 6, 0, 0, 987654321, time.FixedZone("EST", -5*3600)),
			SyncedAt:     &synced,
		},
	}
}
