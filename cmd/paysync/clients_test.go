package main

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paysync/paysync/internal/testenv"
)

// runClientScript runs one of test/sdk's official-client scripts and fails
// the test for every "FAIL" line it prints, or when its summary is missing.
// It returns the script's lines.
func runClientScript(t *testing.T, script, summary string, env ...string) []string {
	t.Helper()
	out := testenv.Node(t, script, env...)
	t.Logf("%s:\n%s", script, out)
	var lines []string
	sawSummary := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		switch {
		case strings.HasPrefix(line, "FAIL "):
			t.Errorf("%s: %s", script, line)
		case strings.HasPrefix(line, summary+": "):
			sawSummary = true
		}
	}
	if !sawSummary {
		t.Errorf("%s printed no summary line", script)
	}
	return lines
}

// TestFlexpriceSDK drives @flexprice/sdk 2.0.1 (with the zod 4 npm resolves
// for it) against a real server: every customer call, and the typed error
// of a 400 and a 404 with its message.
func TestFlexpriceSDK(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[1].env(t)))
	runClientScript(t, "flexprice-client.js", "flexprice-client", "PAYSYNC_URL="+s.URL, "PAYSYNC_API_KEY="+s.Key)
}

// jwtSink receives Lago webhooks on /jwt and /hmac.
type jwtSink struct {
	mu       sync.Mutex
	received map[string][]delivered // by path
	srv      *httptest.Server
}

func newJWTSink(t *testing.T) *jwtSink {
	k := &jwtSink{received: map[string][]delivered{}}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.received[r.URL.Path] = append(k.received[r.URL.Path], delivered{body: body,
			signature: r.Header.Get("X-Lago-Signature"), algo: r.Header.Get("X-Lago-Signature-Algorithm")})
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *jwtSink) at(path string) []delivered {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]delivered(nil), k.received[path]...)
}

// TestLagoJavaScriptClient drives lago-javascript-client 1.53.0 against a
// real server: every customer and webhook-endpoint call, then checks the
// deliveries the client's endpoints received as a Lago consumer does: the
// JWT ones with the public key the client fetched, with golang-jwt.
func TestLagoJavaScriptClient(t *testing.T) {
	s := startServer(t, merge(baseEnv(t), backends[0].env(t)))
	sink := newJWTSink(t)
	lines := runClientScript(t, "lago-client.js", "lago-client",
		"PAYSYNC_URL="+s.URL, "PAYSYNC_API_KEY="+s.Key, "WEBHOOK_URL="+sink.srv.URL)

	var publicKey string
	for _, l := range lines {
		if k, ok := strings.CutPrefix(l, "PUBLIC_KEY "); ok {
			publicKey = k
		}
	}
	if publicKey == "" {
		t.Fatal("the client fetched no public key")
	}
	pemBytes, err := base64.StdEncoding.DecodeString(publicKey)
	if err != nil {
		t.Fatalf("public key is not base64: %v", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("public key is not PEM: %q", pemBytes)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("public key: %v", err)
	}

	var got []delivered
	eventually(t, 30*time.Second, "JWT-signed deliveries", func() bool {
		got = sink.at("/jwt")
		return len(got) > 0
	})
	for _, d := range got {
		if d.algo != "jwt" {
			t.Errorf("X-Lago-Signature-Algorithm %q", d.algo)
			continue
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(d.signature, claims, func(*jwt.Token) (any, error) { return key, nil },
			jwt.WithValidMethods([]string{"RS256"}))
		if err != nil {
			t.Errorf("delivery does not verify with the fetched key: %v", err)
			continue
		}
		if claims["data"] != string(d.body) {
			t.Errorf("JWT data claim %q is not the body %q", claims["data"], d.body)
		}
		if claims["iss"] == nil || fmt.Sprint(claims["iss"]) == "" {
			t.Errorf("JWT has no iss: %v", claims)
		}
	}
	// The HMAC endpoint took customer.created only, signed with the
	// organization's HMAC key.
	_, body := s.do(t, "GET", "/api/v1/webhooks/hmac_key", nil)
	hmacKey, _ := body["webhook"].(map[string]any)["hmac_key"].(string)
	for _, d := range sink.at("/hmac") {
		if !lagoVerify(hmacKey, d) {
			t.Errorf("HMAC delivery does not verify: %s", d.body)
		}
		if !strings.Contains(string(d.body), `"webhook_type":"customer.created"`) {
			t.Errorf("HMAC endpoint filtered to customer.created received %s", d.body)
		}
	}
}
