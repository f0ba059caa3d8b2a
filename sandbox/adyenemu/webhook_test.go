package adyenemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adyen/adyen-go-api-library/v9/src/hmacvalidator"
	adyenwebhook "github.com/adyen/adyen-go-api-library/v9/src/webhook"

	"github.com/paysync/paysync/sandbox/adyenemu"
)

const hookKey = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"

// hookSink records the webhooks it gets and answers with answer(n), n
// counting requests from 1.
type hookSink struct {
	mu     sync.Mutex
	got    []received
	answer func(n int) (int, string)
}

type received struct {
	body   []byte
	header http.Header
}

func newSink(t *testing.T, answer func(n int) (int, string)) (*hookSink, string) {
	t.Helper()
	if answer == nil {
		answer = func(int) (int, string) { return http.StatusOK, "[accepted]" }
	}
	s := &hookSink{answer: answer}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/hooks"
}

func (s *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, received{body: body, header: r.Header.Clone()})
	status, answer := s.answer(len(s.got))
	s.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func (s *hookSink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func wait(t *testing.T, emu *adyenemu.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

// standardItems parses a standard webhook with the official Go library and
// checks every item's signature with its hmacvalidator.
func standardItems(t *testing.T, body []byte, key string) []*adyenwebhook.NotificationRequestItem {
	t.Helper()
	n, err := adyenwebhook.HandleRequest(string(body))
	if err != nil {
		t.Fatalf("the Go library cannot parse %s: %v", body, err)
	}
	if n.Live != "false" {
		t.Errorf("live = %q, want \"false\"", n.Live)
	}
	items := n.GetNotificationItems()
	for _, it := range items {
		if it.AdditionalData == nil || !hmacvalidator.ValidateHmac(*it, key) {
			t.Errorf("item %s %s does not verify with the Go library", it.EventCode, it.PspReference)
		}
	}
	return items
}

// tokenWebhook is the part of a Tokenization webhook the tests read.
type tokenWebhook struct {
	CreatedAt   string `json:"createdAt"`
	Environment string `json:"environment"`
	EventID     string `json:"eventId"`
	Type        string `json:"type"`
	Data        struct {
		MerchantAccount       string `json:"merchantAccount"`
		ShopperReference      string `json:"shopperReference"`
		StoredPaymentMethodID string `json:"storedPaymentMethodId"`
		Type                  string `json:"type"`
	} `json:"data"`
}

// parseToken checks a Tokenization webhook's HmacSignature header with the
// Go library and parses it.
func parseToken(t *testing.T, d adyenemu.WebhookDelivery, key string) tokenWebhook {
	t.Helper()
	sig := d.Header.Get("HmacSignature")
	if sig == "" || !hmacvalidator.ValidateHmacPayload(sig, key, string(d.Body)) {
		t.Errorf("%s: HmacSignature %q does not verify with the Go library", d.Event, sig)
	}
	var w tokenWebhook
	if err := json.Unmarshal(d.Body, &w); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339, w.CreatedAt); err != nil || w.Environment != "test" || w.Type != d.Event || w.EventID != d.PSPReference {
		t.Errorf("tokenization webhook %s", d.Body)
	}
	return w
}

// since returns the deliveries after the first n.
func since(emu *adyenemu.Emulator, n int) []adyenemu.WebhookDelivery { return emu.Webhooks()[n:] }

func TestWebhooksForEveryStoredAndRemovedMethod(t *testing.T) {
	t.Parallel()
	emu, c := start(t)
	sink, url := newSink(t, nil)
	emu.SendWebhooks(url, nil, hookKey)
	psps := map[string]bool{}
	check := func(step string, got []adyenemu.WebhookDelivery, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d webhooks, want %v", step, len(got), want)
		}
		for i, d := range got {
			if d.Event != want[i] || !d.Accepted || !d.Done || d.Attempts != 1 {
				t.Errorf("%s: delivery %d is %s (accepted %v, done %v, %d attempts), want %s accepted at once",
					step, i, d.Event, d.Accepted, d.Done, d.Attempts, want[i])
			}
			if d.PSPReference == "" || psps[d.PSPReference] {
				t.Errorf("%s: pspReference %q is not new", step, d.PSPReference)
			}
			psps[d.PSPReference] = true
		}
	}

	// A payment link completed on its page.
	link := c.do(http.MethodPost, "/v71/paymentLinks", linkBody)
	linkID := link.body["id"].(string)
	res, err := http.PostForm(link.body["url"].(string), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	wait(t, emu)
	got := emu.Webhooks()
	check("link", got, "AUTHORISATION", "recurring.token.created")
	list := c.do(http.MethodGet, "/v71/storedPaymentMethods?merchantAccount=M_ECOM&shopperReference=shopper_1", "")
	linkToken := list.body["storedPaymentMethods"].([]any)[0].(map[string]any)["id"].(string)

	if got[0].Kind != adyenemu.StandardWebhook || got[0].Header.Get("HmacSignature") != "" {
		t.Errorf("AUTHORISATION sent as %s with header %v", got[0].Kind, got[0].Header)
	}
	items := standardItems(t, got[0].Body, hookKey)
	if len(items) != 1 {
		t.Fatalf("%d items", len(items))
	}
	it := items[0]
	ad := *it.AdditionalData
	if it.EventCode != "AUTHORISATION" || it.Success != "true" || it.PspReference != got[0].PSPReference ||
		it.MerchantAccountCode != "M_ECOM" || it.MerchantReference != "ref-1" || it.Amount.Value != 0 || it.Amount.Currency != "EUR" ||
		it.EventDate == nil || time.Since(*it.EventDate) > time.Minute {
		t.Errorf("AUTHORISATION item %+v", it)
	}
	for k, want := range map[string]string{
		"recurring.shopperReference": "shopper_1", "recurring.recurringDetailReference": linkToken,
		"tokenization.shopperReference": "shopper_1", "tokenization.storedPaymentMethodId": linkToken, "paymentLinkId": linkID,
	} {
		if ad[k] != want {
			t.Errorf("additionalData[%s] = %v, want %s", k, ad[k], want)
		}
	}
	created := parseToken(t, got[1], hookKey)
	if created.Data.ShopperReference != "shopper_1" || created.Data.StoredPaymentMethodID != linkToken || created.Data.MerchantAccount != "M_ECOM" || created.Data.Type != "visa" {
		t.Errorf("recurring.token.created %s", got[1].Body)
	}

	// The sandbox route and the helper store plain zero-amount authorisations.
	c.do(http.MethodPost, "/_sandbox/shoppers/shopper_1/payment_methods", `{"brand":"mc","lastFour":"4444"}`)
	if _, err := emu.AttachPaymentMethod("shopper_2"); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	// Deliveries run one at a time, in order, and are logged in that order.
	got = since(emu, 2)
	check("sandbox and helper", got, "AUTHORISATION", "recurring.token.created", "AUTHORISATION", "recurring.token.created")
	for i, shopper := range []string{"shopper_1", "shopper_2"} {
		it := standardItems(t, got[2*i].Body, hookKey)[0]
		if it.MerchantAccountCode != adyenemu.SandboxMerchantAccount || !strings.HasPrefix(it.MerchantReference, "sandbox-store-") ||
			(*it.AdditionalData)["recurring.shopperReference"] != shopper {
			t.Errorf("AUTHORISATION for %s: %+v", shopper, it)
		}
		if w := parseToken(t, got[2*i+1], hookKey); w.Data.ShopperReference != shopper {
			t.Errorf("recurring.token.created for %s: %s", shopper, got[2*i+1].Body)
		}
	}

	// Removed: by the API, the sandbox route and the helper.
	c.do(http.MethodDelete, "/v71/storedPaymentMethods/"+linkToken+"?merchantAccount=M_ECOM&shopperReference=shopper_1", "")
	wait(t, emu)
	got = since(emu, 6)
	check("API delete", got, "recurring.token.disabled")
	if w := parseToken(t, got[0], hookKey); w.Data.StoredPaymentMethodID != linkToken || w.Data.ShopperReference != "shopper_1" {
		t.Errorf("recurring.token.disabled %s", got[0].Body)
	}
	c.do(http.MethodDelete, "/_sandbox/shoppers/shopper_1/payment_methods", "")
	if err := emu.DetachPaymentMethods("shopper_2"); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	got = since(emu, 7)
	check("sandbox and helper removal", got, "recurring.token.disabled", "recurring.token.disabled")
	shoppers := map[string]bool{}
	for _, d := range got {
		shoppers[parseToken(t, d, hookKey).Data.ShopperReference] = true
	}
	if !shoppers["shopper_1"] || !shoppers["shopper_2"] {
		t.Errorf("removal webhooks named %v", shoppers)
	}

	// The receiver got exactly the bytes the emulator reports.
	sent := map[string]bool{}
	for _, d := range emu.Webhooks() {
		sent[string(d.Body)] = true
	}
	recv := sink.received()
	if len(recv) != 9 {
		t.Fatalf("the receiver got %d webhooks, want 9", len(recv))
	}
	for _, r := range recv {
		if !sent[string(r.body)] || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("received a webhook the emulator does not report: %s", r.body)
		}
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	// Fails once, then accepts.
	emu := adyenemu.New()
	_, url := newSink(t, func(n int) (int, string) {
		if n == 1 {
			return http.StatusInternalServerError, "try later"
		}
		return http.StatusOK, "[accepted]"
	})
	emu.SendWebhooks(url, &http.Client{Timeout: 5 * time.Second}, hookKey)
	if err := emu.DetachPaymentMethods("nobody"); err == nil {
		t.Error("detaching an unknown shopper succeeded")
	}
	if _, err := emu.AttachPaymentMethod("shopper_retry"); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	attempts := 0
	for _, d := range emu.Webhooks() {
		if !d.Accepted || !d.Done {
			t.Errorf("%s not accepted in the end: %+v", d.Event, d)
		}
		attempts += d.Attempts
	}
	if attempts != 3 {
		t.Errorf("%d attempts for two webhooks with one refusal, want 3", attempts)
	}

	// 200 without [accepted] does not acknowledge a standard webhook; a
	// tokenization webhook only needs a 2xx.
	emu = adyenemu.New()
	sink, url := newSink(t, func(int) (int, string) { return http.StatusOK, "ok" })
	emu.SendWebhooks(url, nil, hookKey)
	if _, err := emu.AttachPaymentMethod("shopper_retry"); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	for _, d := range emu.Webhooks() {
		switch d.Kind {
		case adyenemu.StandardWebhook:
			if d.Accepted || !d.Done || d.Attempts != 4 || d.Status != http.StatusOK || d.Response != "ok" {
				t.Errorf("standard webhook answered without [accepted]: %+v", d)
			}
		case adyenemu.TokenizationWebhook:
			if !d.Accepted || d.Attempts != 1 {
				t.Errorf("tokenization webhook answered 200: %+v", d)
			}
		}
	}
	if n := len(sink.received()); n != 5 {
		t.Errorf("the receiver got %d requests, want 5", n)
	}

	// No receiver at all: the attempts end with the error recorded.
	emu = adyenemu.New()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	emu.SendWebhooks(dead.URL, nil, hookKey)
	if _, err := emu.AttachPaymentMethod("shopper_retry"); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	for _, d := range emu.Webhooks() {
		if d.Accepted || d.Attempts != 4 || d.Status != 0 || d.Err == "" {
			t.Errorf("delivery to a closed server: %+v", d)
		}
	}
}

func TestResendLastWebhook(t *testing.T) {
	t.Parallel()
	emu := adyenemu.New()
	if err := emu.ResendLastWebhook(); err == nil {
		t.Error("resend without SendWebhooks succeeded")
	}
	sink, url := newSink(t, nil)
	emu.SendWebhooks(url, nil, hookKey)
	if err := emu.ResendLastWebhook(); err == nil {
		t.Error("resend before any webhook succeeded")
	}
	if _, err := emu.AttachPaymentMethod("shopper_resend"); err != nil {
		t.Fatal(err)
	}
	if err := emu.DetachPaymentMethods("shopper_resend"); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	if err := emu.ResendLastWebhook(); err != nil {
		t.Fatal(err)
	}
	recv := sink.received()
	if len(recv) != 4 {
		t.Fatalf("the receiver got %d webhooks, want 4", len(recv))
	}
	var original received
	for _, r := range recv[:3] {
		if bytes.Contains(r.body, []byte("recurring.token.disabled")) {
			original = r
		}
	}
	resent := recv[3]
	if !bytes.Equal(resent.body, original.body) || resent.header.Get("HmacSignature") == "" ||
		resent.header.Get("HmacSignature") != original.header.Get("HmacSignature") {
		t.Errorf("resent %s (%q), want %s (%q) byte for byte", resent.body, resent.header.Get("HmacSignature"),
			original.body, original.header.Get("HmacSignature"))
	}
	log := emu.Webhooks()
	if last := log[len(log)-1]; last.Event != "recurring.token.disabled" || !last.Accepted || last.Attempts != 1 {
		t.Errorf("the resend is logged as %+v", last)
	}

	// A resend the receiver refuses is an error.
	refusing := adyenemu.New()
	_, url = newSink(t, func(int) (int, string) { return http.StatusUnauthorized, "invalid HMAC signature" })
	refusing.SendWebhooks(url, nil, hookKey)
	if _, err := refusing.AttachPaymentMethod("shopper_resend"); err != nil {
		t.Fatal(err)
	}
	wait(t, refusing)
	if err := refusing.ResendLastWebhook(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a refused resend gave %v", err)
	}
}

func TestNoWebhooksUnlessConfigured(t *testing.T) {
	t.Parallel()
	emu := adyenemu.New()
	if _, err := emu.AttachPaymentMethod("shopper_quiet"); err != nil {
		t.Fatal(err)
	}
	if err := emu.DetachPaymentMethods("shopper_quiet"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil || len(emu.Webhooks()) != 0 {
		t.Errorf("an unconfigured emulator sent %d webhooks (%v)", len(emu.Webhooks()), err)
	}
	defer func() {
		if recover() == nil {
			t.Error("SendWebhooks accepted a secret that is not hex")
		}
	}()
	emu.SendWebhooks("http://127.0.0.1:9", nil, "not hex")
}

func TestSandboxWebhookSecret(t *testing.T) {
	t.Parallel()
	emu := adyenemu.New()
	_, url := newSink(t, nil)
	emu.SendWebhooks(url, nil, adyenemu.SandboxWebhookSecret)
	if _, err := emu.AttachPaymentMethod("shopper_sandbox"); err != nil {
		t.Fatal(err)
	}
	wait(t, emu)
	for _, d := range emu.Webhooks() {
		if d.Kind == adyenemu.StandardWebhook {
			it := standardItems(t, d.Body, adyenemu.SandboxWebhookSecret)[0]
			// Under another key, the Go library rejects the item.
			if hmacvalidator.ValidateHmac(*it, hookKey) {
				t.Error("an item verified under another key")
			}
		} else {
			parseToken(t, d, adyenemu.SandboxWebhookSecret)
		}
	}
}

// Webhooks fire from concurrent stores and removals without races.
func TestConcurrentWebhooks(t *testing.T) {
	t.Parallel()
	emu := adyenemu.New()
	sink, url := newSink(t, nil)
	emu.SendWebhooks(url, nil, hookKey)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref := fmt.Sprintf("shopper_conc_%d", i)
			if _, err := emu.AttachPaymentMethod(ref); err != nil {
				t.Error(err)
				return
			}
			if err := emu.DetachPaymentMethods(ref); err != nil {
				t.Error(err)
			}
			_ = emu.Webhooks()
		}()
	}
	wg.Wait()
	wait(t, emu)
	if n := len(sink.received()); n != 24 {
		t.Errorf("the receiver got %d webhooks, want 24", n)
	}
}
