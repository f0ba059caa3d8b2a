// Package egress decides where paysync may send client webhooks: https
// only (http when allowed), and never to the machine itself or the network
// it runs in (loopback, link-local such as cloud metadata at
// 169.254.169.254, private, CGNAT, unspecified, multicast) unless the
// operator allows private addresses. The check runs when an endpoint is
// registered, and again on the address each connection actually dials, so
// that a name re-pointed after registration (DNS rebinding) cannot pass.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Policy is what the operator allows. The zero value is the strictest.
type Policy struct {
	// AllowHTTP accepts plain http URLs (PAYSYNC_WEBHOOK_ALLOW_HTTP; on in
	// sandbox mode).
	AllowHTTP bool
	// AllowPrivate accepts every address class
	// (PAYSYNC_WEBHOOK_ALLOW_PRIVATE), for operators who deliver inside
	// their own network.
	AllowPrivate bool
	// Resolver looks host names up; nil is net.DefaultResolver. Tests
	// replace it to re-point a name between registration and delivery.
	Resolver Resolver
}

// Resolver looks a host name up, as *net.Resolver does.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Refusal is why a URL or an address is refused; its text is safe to show
// the client who registered the URL.
type Refusal struct {
	// Reason is a short code: scheme_not_allowed, url_is_invalid,
	// host_not_resolved or address_not_allowed.
	Reason string
	Detail string
}

func (r *Refusal) Error() string { return "webhook url refused: " + r.Detail }

// ErrRefused matches every *Refusal with errors.Is.
var ErrRefused = errors.New("webhook url refused")

// Is makes errors.Is(err, ErrRefused) true for a Refusal.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// CheckURL refuses a URL the policy does not allow: a scheme other than
// https (or http when allowed), no host, or a host that resolves to an
// address not allowed (every address it resolves to must be allowed). A
// name that does not resolve (yet) passes, as Lago takes any URL: there is
// nothing to connect to, and each delivery's dial checks what it resolves
// to then.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.User != nil {
		return &Refusal{Reason: "url_is_invalid", Detail: "not an absolute URL with a host (and without credentials)"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return &Refusal{Reason: "scheme_not_allowed", Detail: "only https URLs are allowed (PAYSYNC_WEBHOOK_ALLOW_HTTP=true allows http)"}
		}
	default:
		return &Refusal{Reason: "scheme_not_allowed", Detail: "the scheme must be https"}
	}
	_, err = p.resolve(ctx, u.Hostname())
	var r *Refusal
	if errors.As(err, &r) && r.Reason == "host_not_resolved" {
		return nil
	}
	return err
}

// resolve returns the host's addresses when every one is allowed.
func (p Policy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(ip); err != nil {
			return nil, err
		}
		return []netip.Addr{ip}, nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return nil, &Refusal{Reason: "host_not_resolved", Detail: fmt.Sprintf("the host %q does not resolve", host)}
	}
	for _, ip := range ips {
		if err := p.CheckAddr(ip); err != nil {
			return nil, err
		}
	}
	return ips, nil
}

// cgnat is RFC 6598's shared address space, used inside carriers and some
// cloud networks.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// thisNetwork is 0.0.0.0/8: Linux connects an address in it to the host
// itself.
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// CheckAddr refuses an address of a class the policy does not allow.
func (p Policy) CheckAddr(ip netip.Addr) error {
	if p.AllowPrivate {
		return nil
	}
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	var class string
	switch {
	case !ip.IsValid():
		class = "invalid"
	case ip.IsLoopback():
		class = "loopback"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		class = "link-local"
	case ip.IsPrivate():
		class = "private"
	case cgnat.Contains(ip):
		class = "shared (CGNAT)"
	case ip.IsUnspecified(), thisNetwork.Contains(ip):
		class = "unspecified"
	case ip.IsMulticast():
		class = "multicast"
	case ip.Is4() && ip.As4() == [4]byte{255, 255, 255, 255}:
		class = "broadcast"
	default:
		return nil
	}
	return &Refusal{Reason: "address_not_allowed",
		Detail: fmt.Sprintf("%s resolves to a %s address (PAYSYNC_WEBHOOK_ALLOW_PRIVATE=true allows it)", ip, class)}
}

// DialContext connects to addr after checking every address its host
// resolves to, and dials the checked addresses only: the name is not
// looked up a second time, so its answer cannot change in between.
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := p.dialer()
	var firstErr error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// dialer checks the address once more on the socket itself, whatever
// dialled it.
func (p Policy) dialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &Refusal{Reason: "address_not_allowed", Detail: "unparsable address " + address}
			}
			return p.CheckAddr(ap.Addr())
		}}
}

// Transport is an HTTP transport whose every connection goes through
// DialContext, and never through a proxy (a proxy would dial for us).
func (p Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = p.DialContext
	return t
}
