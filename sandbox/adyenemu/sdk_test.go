package adyenemu_test

import (
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/sandbox/adyenemu"
)

// TestOfficialNodeLibrary checks the emulator with Adyen's own Node
// library: what it sends must be understood, what it gets must parse.
func TestOfficialNodeLibrary(t *testing.T) {
	t.Parallel()
	emu := adyenemu.New()
	emu.AddAPIKey("sdk_key", "SdkMerchantECOM")
	// The library only speaks https; Node trusts the test certificate
	// through NODE_EXTRA_CA_CERTS.
	srv := httptest.NewTLSServer(emu)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "emulator-ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	out := testenv.Node(t, "adyen.js",
		"NODE_EXTRA_CA_CERTS="+caFile,
		"ADYEN_URL="+srv.URL,
		"ADYEN_API_KEY=sdk_key",
		"ADYEN_MERCHANT_ACCOUNT=SdkMerchantECOM",
		"ADYEN_SHOPPER_REFERENCE=shopper_sdk_1",
	)
	var got struct {
		AttachedID string `json:"attachedId"`
		Stored     struct {
			MerchantAccount  string `json:"merchantAccount"`
			ShopperReference string `json:"shopperReference"`
			Methods          []struct {
				ID, Type, Brand, LastFour, ShopperReference string
			} `json:"methods"`
		} `json:"stored"`
		Link struct {
			ID, URL, Status, Reference, ShopperReference, ExpiresAt string
			Amount                                                  struct {
				Value    int64
				Currency string
			}
		} `json:"link"`
		RepeatID      string `json:"repeatId"`
		FetchedStatus string `json:"fetchedStatus"`
		Unauthorized  *struct {
			StatusCode int    `json:"statusCode"`
			ErrorCode  string `json:"errorCode"`
			ErrorType  string `json:"errorType"`
		} `json:"unauthorized"`
	}
	t.Logf("adyen.js: %s", out)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("adyen.js output %q: %v", out, err)
	}

	if got.Stored.ShopperReference != "shopper_sdk_1" || got.Stored.MerchantAccount != "SdkMerchantECOM" {
		t.Errorf("stored methods response for %q/%q", got.Stored.MerchantAccount, got.Stored.ShopperReference)
	}
	if len(got.Stored.Methods) != 1 {
		t.Fatalf("the library parsed %d stored methods, want 1", len(got.Stored.Methods))
	}
	m := got.Stored.Methods[0]
	if m.ID == "" || m.ID != got.AttachedID || m.Type != "scheme" || m.Brand != "visa" || m.LastFour != "1111" || m.ShopperReference != "shopper_sdk_1" {
		t.Errorf("stored method = %+v, want the attached card %s", m, got.AttachedID)
	}

	l := got.Link
	if !strings.HasPrefix(l.ID, "PL") || l.URL != srv.URL+"/_sandbox/links/"+l.ID || l.Status != "active" {
		t.Errorf("link = %+v", l)
	}
	if l.Reference != "sdk-setup-1" || l.ShopperReference != "shopper_sdk_1" || l.Amount.Value != 0 || l.Amount.Currency != "EUR" {
		t.Errorf("link echoes %+v", l)
	}
	if exp, err := time.Parse(time.RFC3339, l.ExpiresAt); err != nil || !exp.After(time.Now()) {
		t.Errorf("expiresAt %q did not parse as a future date-time: %v", l.ExpiresAt, err)
	}
	if got.RepeatID != l.ID || emu.PaymentLinks() != 1 {
		t.Errorf("repeat with the same Idempotency-Key gave %q (%d links), want %q", got.RepeatID, emu.PaymentLinks(), l.ID)
	}
	if got.FetchedStatus != "active" {
		t.Errorf("GET /paymentLinks/{id} status = %q", got.FetchedStatus)
	}
	if u := got.Unauthorized; u == nil || u.StatusCode != 401 || u.ErrorCode != "000" || u.ErrorType != "security" {
		t.Errorf("a wrong key gave %+v, want the library's 401 error with errorCode 000", u)
	}
}
