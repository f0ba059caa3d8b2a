package paysync

import (
	"strings"
	"testing"
)

type staticConns []Connection

func (s staticConns) List(orgID string, kind ProviderKind) []Connection {
	var out []Connection
	for _, c := range s {
		if c.OrganizationID == orgID && (kind == "" || c.Provider == kind) {
			out = append(out, c)
		}
	}
	return out
}

func (s staticConns) Provider(string, ProviderKind, string) (Provider, error) { return nil, nil }

func ptr[T any](v T) *T { return &v }

func TestPlanLinkFollowsLago(t *testing.T) {
	conns := staticConns{
		{OrganizationID: "o", Provider: Stripe, Code: "stripe_eu"},
		{OrganizationID: "o", Provider: GoCardless, Code: "gc1"},
		{OrganizationID: "o", Provider: GoCardless, Code: "gc2"},
		{OrganizationID: "o", Provider: Braintree, Code: "bt"},
	}
	s := &Service{Connections: conns}
	synced := func() *ProviderLink {
		return &ProviderLink{ID: "l", Provider: Stripe, ConnectionCode: "stripe_eu", ProviderCustomerID: "cus_1",
			SyncWithProvider: true, Generation: 1, State: SyncSynced, HasPaymentMethod: true}
	}
	cases := []struct {
		name     string
		existing *ProviderLink
		isNew    bool
		b        *BillingRequest
		want     func(t *testing.T, l *ProviderLink)
		wantErr  string
	}{
		{name: "no billing, nothing at the provider", isNew: true, b: nil,
			want: func(t *testing.T, l *ProviderLink) { mustNil(t, l) }},
		{name: "provider without sync_with_provider: linked, nothing to do", isNew: true,
			b: &BillingRequest{ProviderSet: true, Provider: Stripe},
			want: func(t *testing.T, l *ProviderLink) {
				if l.State != SyncNone || l.ConnectionCode != "stripe_eu" || l.Generation != 0 {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "sync_with_provider creates", isNew: true,
			b: &BillingRequest{ProviderSet: true, Provider: Stripe, SyncWithProvider: ptr(true)},
			want: func(t *testing.T, l *ProviderLink) {
				if l.State != SyncPending || l.LinkOnly || l.Generation != 1 || l.PendingSince.IsZero() {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "provider_customer_id links", isNew: true,
			b: &BillingRequest{ProviderSet: true, Provider: Stripe, ProviderCustomerID: "cus_9", SyncWithProvider: ptr(true)},
			want: func(t *testing.T, l *ProviderLink) {
				if l.State != SyncPending || !l.LinkOnly || l.ProviderCustomerID != "cus_9" {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "code needed with two connections", isNew: true,
			b:       &BillingRequest{ProviderSet: true, Provider: GoCardless, SyncWithProvider: ptr(true)},
			wantErr: "payment_provider_code_missing"},
		{name: "code picks the connection", isNew: true,
			b: &BillingRequest{ProviderSet: true, Provider: GoCardless, ConnectionCode: "gc2", SyncWithProvider: ptr(true)},
			want: func(t *testing.T, l *ProviderLink) {
				if l.ConnectionCode != "gc2" || l.State != SyncPending {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "unknown code", isNew: true,
			b:       &BillingRequest{ProviderSet: true, Provider: Stripe, ConnectionCode: "nope"},
			wantErr: "payment_provider_not_found"},
		{name: "no connection of that provider", isNew: true,
			b:       &BillingRequest{ProviderSet: true, Provider: Adyen},
			wantErr: "payment_provider_not_found"},
		{name: "provider_customer_id without provider", isNew: true,
			b:       &BillingRequest{ProviderCustomerID: "cus_1"},
			wantErr: "value_is_mandatory"},
		{name: "same request again on a synced link changes nothing", existing: synced(),
			b: &BillingRequest{ProviderSet: true, Provider: Stripe, SyncWithProvider: ptr(true)},
			want: func(t *testing.T, l *ProviderLink) {
				if l.State != SyncSynced || l.Generation != 1 || l.ProviderCustomerID != "cus_1" || !l.HasPaymentMethod {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "payment_provider null removes the link", existing: synced(),
			b:    &BillingRequest{ProviderSet: true},
			want: func(t *testing.T, l *ProviderLink) { mustNil(t, l) }},
		{name: "another provider starts a new generation on the same link", existing: synced(),
			b: &BillingRequest{ProviderSet: true, Provider: Braintree, SyncWithProvider: ptr(true)},
			want: func(t *testing.T, l *ProviderLink) {
				if l.ID != "l" || l.Provider != Braintree || l.Generation != 3 || l.State != SyncPending || l.ProviderCustomerID != "" || l.HasPaymentMethod {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "another provider with nothing to do yet still supersedes the running job", existing: synced(),
			b: &BillingRequest{ProviderSet: true, Provider: Braintree},
			want: func(t *testing.T, l *ProviderLink) {
				if l.Generation != 2 || l.State != SyncNone || l.ProviderCustomerID != "" {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "a failed link is retried by sending sync_with_provider again",
			existing: &ProviderLink{ID: "l", Provider: Stripe, ConnectionCode: "stripe_eu", SyncWithProvider: true, Generation: 3, State: SyncFailed, LastError: &ProviderError{Code: "x"}},
			b:        &BillingRequest{SyncWithProvider: ptr(true)},
			want: func(t *testing.T, l *ProviderLink) {
				if l.Generation != 4 || l.State != SyncPending || l.LastError != nil {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "sync_with_provider alone keeps the linked connection of several",
			existing: &ProviderLink{ID: "l", Provider: GoCardless, ConnectionCode: "gc2", SyncWithProvider: true, Generation: 1, State: SyncFailed},
			b:        &BillingRequest{SyncWithProvider: ptr(true)},
			want: func(t *testing.T, l *ProviderLink) {
				if l.ConnectionCode != "gc2" || l.Generation != 2 || l.State != SyncPending {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "a request saying nothing about the provider leaves a failed link alone",
			existing: &ProviderLink{ID: "l", Provider: Stripe, ConnectionCode: "stripe_eu", SyncWithProvider: true, Generation: 3, State: SyncFailed},
			b:        &BillingRequest{Sync: true},
			want: func(t *testing.T, l *ProviderLink) {
				if l.Generation != 3 || l.State != SyncFailed {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "a new provider_customer_id relinks", existing: synced(),
			b: &BillingRequest{ProviderCustomerID: "cus_2"},
			want: func(t *testing.T, l *ProviderLink) {
				if l.ProviderCustomerID != "cus_2" || !l.LinkOnly || l.Generation != 2 || l.HasPaymentMethod {
					t.Errorf("got %+v", l)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Customer{OrganizationID: "o", Link: tc.existing}
			l, err := s.planLink(c, tc.isNew, tc.b)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want(t, l)
		})
	}
}

func TestSyncNewCustomersConnection(t *testing.T) {
	s := &Service{Connections: staticConns{{OrganizationID: "o", Provider: Stripe, Code: "main", SyncNewCustomers: true}}}
	l, err := s.planLink(&Customer{OrganizationID: "o"}, true, nil)
	if err != nil || l == nil || l.ConnectionCode != "main" || l.State != SyncPending || !l.SyncWithProvider {
		t.Fatalf("link %+v, err %v", l, err)
	}
	existing := &ProviderLink{ID: "x", Provider: Stripe, ConnectionCode: "main", State: SyncSynced}
	l, _ = s.planLink(&Customer{OrganizationID: "o", Link: existing}, false, nil)
	if l != existing {
		t.Fatal("an update must not relink an existing customer")
	}
}

func TestProviderErrorClassification(t *testing.T) {
	if !IsRetryable(errString("connection reset")) {
		t.Error("a plain error (network) must be retryable")
	}
	if IsRetryable(&ProviderError{Code: "invalid_request_error"}) {
		t.Error("a permanent provider error must not be retryable")
	}
	ref := LinkRef{ID: "abc", Generation: 2}
	if ref.TaskID() != "sync:abc:2" {
		t.Errorf("task id %q", ref.TaskID())
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func mustNil(t *testing.T, l *ProviderLink) {
	t.Helper()
	if l != nil {
		t.Errorf("want no link, got %+v", l)
	}
}

func TestExplicitOptOutSkipsSyncNewCustomers(t *testing.T) {
	s := &Service{Connections: staticConns{{OrganizationID: "o", Provider: Stripe, Code: "main", SyncNewCustomers: true}}}
	off := false
	l, err := s.planLink(&Customer{OrganizationID: "o"}, true, &BillingRequest{SyncWithProvider: &off})
	if err != nil || l != nil {
		t.Fatalf("sync_with_provider: false must keep the customer away from providers: %+v, %v", l, err)
	}
}
