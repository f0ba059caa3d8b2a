package gocardlessemu_test

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/gocardlessemu"
)

// TestOfficialNodeSDK checks the emulator against GoCardless's own Node
// SDK: what the SDK sends must be accepted, and what the emulator answers
// must parse into the SDK's resources and errors.
func TestOfficialNodeSDK(t *testing.T) {
	t.Parallel()
	emu := gocardlessemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)

	out := testenv.Node(t, "gocardless.js", "GOCARDLESS_BASE_URL="+srv.URL, "GOCARDLESS_ACCESS_TOKEN="+token)
	var got struct {
		Created struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
		} `json:"created"`
		RepeatedID string `json:"repeated_id"`
		Found      struct {
			ID         string            `json:"id"`
			Email      string            `json:"email"`
			GivenName  string            `json:"given_name"`
			FamilyName string            `json:"family_name"`
			Metadata   map[string]string `json:"metadata"`
			CreatedAt  string            `json:"created_at"`
		} `json:"found"`
		AttachedID string `json:"attached_id"`
		Mandates   []struct {
			ID, Status, Scheme, Customer string
		} `json:"mandates"`
		MandatesMeta struct {
			Cursors struct {
				Before, After *string
			} `json:"cursors"`
			Limit int `json:"limit"`
		} `json:"mandates_meta"`
		AllCustomers []string  `json:"all_customers"`
		BadToken     *sdkError `json:"bad_token"`
		Invalid      *sdkError `json:"invalid"`
	}
	t.Logf("SDK output: %s", out)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output: %v\n%s", err, out)
	}

	if !strings.HasPrefix(got.Created.ID, "CU") || got.Created.Status != 201 {
		t.Errorf("created %+v", got.Created)
	}
	if got.RepeatedID != got.Created.ID || emu.CustomerCount() != 3 {
		t.Errorf("repeat with the same key gave %s (want %s); %d customers, want 3", got.RepeatedID, got.Created.ID, emu.CustomerCount())
	}
	f := got.Found
	if f.ID != got.Created.ID || f.Email != "grace@example.com" || f.GivenName != "Grace" || f.FamilyName != "Hopper" || f.CreatedAt == "" {
		t.Errorf("found %+v", f)
	}
	if f.Metadata["paysync_customer_id"] != "cus_sdk" || f.Metadata["paysync_external_id"] != "ext_sdk" {
		t.Errorf("metadata %v", f.Metadata)
	}
	if len(got.Mandates) != 1 {
		t.Fatalf("mandates %+v, want one", got.Mandates)
	}
	m := got.Mandates[0]
	if m.ID != got.AttachedID || !strings.HasPrefix(m.ID, "MD") || m.Status != "active" || m.Scheme != "bacs" || m.Customer != got.Created.ID {
		t.Errorf("mandate %+v", m)
	}
	if got.MandatesMeta.Limit != 50 || got.MandatesMeta.Cursors.After != nil || got.MandatesMeta.Cursors.Before != nil {
		t.Errorf("mandates meta %+v", got.MandatesMeta)
	}
	if len(got.AllCustomers) != 3 || !slices.Contains(got.AllCustomers, got.Created.ID) {
		t.Errorf("customers.all gave %v, want the 3 customers over 2 pages", got.AllCustomers)
	}
	if b := got.BadToken; b == nil || b.Class != "AuthenticationError" || b.Status != 401 || b.Reason != "access_token_not_found" {
		t.Errorf("bad token: %+v", b)
	}
	if v := got.Invalid; v == nil || v.Class != "ValidationFailedError" || v.Type != "validation_failed" || v.Status != 422 {
		t.Errorf("invalid customer: %+v", v)
	}
}

type sdkError struct {
	Class  string `json:"class"`
	Type   string `json:"type"`
	Reason string `json:"reason"`
	Status int    `json:"status"`
}
