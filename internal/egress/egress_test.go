package egress_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paysync/paysync/internal/egress"
)

// names is a resolver whose answers a test can change.
type names struct {
	mu sync.Mutex
	m  map[string][]netip.Addr
}

func (n *names) set(host string, ips ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[string][]netip.Addr{}
	}
	n.m[host] = nil
	for _, ip := range ips {
		n.m[host] = append(n.m[host], netip.MustParseAddr(ip))
	}
}

func (n *names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ips := n.m[host]; len(ips) > 0 {
		return ips, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURLAddressClasses(t *testing.T) {
	ctx := context.Background()
	strict := egress.Policy{}
	for _, u := range []string{
		"https://127.0.0.1/", "https://127.9.9.9:8443/x", "https://[::1]:6379/",
		"https://169.254.169.254/latest/meta-data/", "https://[fe80::1]/",
		"https://10.0.0.1/", "https://172.16.0.1/", "https://172.31.255.255/", "https://192.168.1.1/",
		"https://[fc00::1]/", "https://[fd12:3456::1]/",
		"https://0.0.0.0/", "https://[::]/", "https://0.1.2.3/",
		"https://224.0.0.1/", "https://[ff02::1]/", "https://255.255.255.255/",
		"https://100.64.0.1/", "https://100.127.255.254/",
		"https://[::ffff:127.0.0.1]/", "https://[::ffff:10.0.0.1]/", "https://[::ffff:169.254.169.254]/",
		"https://localhost/", "https://localhost:9000/hook",
	} {
		err := strict.CheckURL(ctx, u)
		var r *egress.Refusal
		if !errors.As(err, &r) || r.Reason != "address_not_allowed" || !errors.Is(err, egress.ErrRefused) {
			t.Errorf("%s: %v, want address_not_allowed", u, err)
		}
		if err := (egress.Policy{AllowPrivate: true}).CheckURL(ctx, u); err != nil {
			t.Errorf("%s with AllowPrivate: %v", u, err)
		}
	}
	for _, u := range []string{"https://8.8.8.8/", "https://[2001:4860:4860::8888]/", "https://172.32.0.1/", "https://100.128.0.1/", "https://1.1.1.1:8443/hook?x=1"} {
		if err := strict.CheckURL(ctx, u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestCheckURLSchemeAndShape(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url    string
		policy egress.Policy
		reason string
	}{
		{"http://8.8.8.8/", egress.Policy{}, "scheme_not_allowed"},
		{"ftp://8.8.8.8/", egress.Policy{AllowHTTP: true}, "scheme_not_allowed"},
		{"gopher://8.8.8.8/", egress.Policy{AllowHTTP: true, AllowPrivate: true}, "scheme_not_allowed"},
		{"https:///x", egress.Policy{}, "url_is_invalid"},
		{"/relative", egress.Policy{}, "url_is_invalid"},
		{"https://user:pw@8.8.8.8/", egress.Policy{}, "url_is_invalid"},
		{"http://127.0.0.1/", egress.Policy{AllowHTTP: true}, "address_not_allowed"},
	} {
		err := tc.policy.CheckURL(ctx, tc.url)
		var r *egress.Refusal
		if !errors.As(err, &r) || r.Reason != tc.reason {
			t.Errorf("%s %+v: %v, want %s", tc.url, tc.policy, err, tc.reason)
		}
	}
	if err := (egress.Policy{AllowHTTP: true}).CheckURL(ctx, "http://8.8.8.8/"); err != nil {
		t.Errorf("http allowed: %v", err)
	}
	// A name that does not resolve is left to the check at each dial.
	if err := (egress.Policy{}).CheckURL(ctx, "https://no-such-host.invalid/"); err != nil {
		t.Errorf("an unresolved name at registration: %v", err)
	}
}

// A name with one public and one private answer is refused: the dialer
// could pick either.
func TestCheckURLEveryAnswerChecked(t *testing.T) {
	n := &names{}
	n.set("mixed.example", "8.8.8.8", "10.1.2.3")
	if err := (egress.Policy{Resolver: n}).CheckURL(context.Background(), "https://mixed.example/"); !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("mixed answers: %v", err)
	}
}

// The check is repeated on the address a connection dials: a name that
// resolved to a public address at registration and to loopback at
// delivery (DNS rebinding) gets no connection, and the server nothing.
func TestTransportRefusesRebinding(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	n := &names{}
	n.set("hooks.example", "93.184.215.14")
	p := egress.Policy{AllowHTTP: true, Resolver: n}
	target := "http://hooks.example:" + port + "/hook"
	if err := p.CheckURL(context.Background(), target); err != nil {
		t.Fatalf("registration: %v", err)
	}
	n.set("hooks.example", "127.0.0.1")
	client := &http.Client{Transport: p.Transport()}
	resp, err := client.Post(target, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("delivered to a rebound name: %d", resp.StatusCode)
	}
	if !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("error %v, want a refusal", err)
	}
	// A literal loopback address is refused on the socket as well.
	if resp, err := client.Get(srv.URL); err == nil || !errors.Is(err, egress.ErrRefused) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("literal loopback: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server was reached %d times", n)
	}

	// With AllowPrivate the same name reaches the server.
	p.AllowPrivate = true
	resp, err = (&http.Client{Transport: p.Transport()}).Post(target, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("allow private: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("allow private: status %d, hits %d", resp.StatusCode, hits.Load())
	}
}
