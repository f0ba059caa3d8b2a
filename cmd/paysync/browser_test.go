package main

// A headless Chromium driven over the Chrome DevTools Protocol, with the
// little of WebSocket (RFC 6455) that CDP needs: text frames, client-masked.

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	be "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paysync/paysync/internal/testenv"
)

// chromiumPath finds Debian's chromium, installing it when missing; a
// browser that cannot be had fails the test (the test script installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	find := func() string {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	if _, err := exec.LookPath("apt-get"); err == nil {
		out, err := exec.Command("sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium").CombinedOutput()
		if p := find(); p != "" {
			return p
		}
		t.Logf("apt-get install chromium: %v\n%s", err, out)
	}
	t.Fatal("chromium is not installed and could not be installed (apt-get install chromium)")
	return ""
}

// browser is one page of a headless Chromium.
type browser struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	next int
}

// startBrowser runs Chromium with a phone-sized window and attaches to its page.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	port := testenv.FreePort(t)
	// Not t.TempDir: Chromium's helper processes may still write to it
	// when the test's own cleanup would remove it.
	profile, err := os.MkdirTemp("", "paysync-chromium")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromiumPath(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+profile, fmt.Sprintf("--remote-debugging-port=%d", port), "--window-size=412,915", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers stop with it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = os.RemoveAll(profile)
	})
	var wsURL string
	eventually(t, 30*time.Second, "chromium's DevTools endpoint", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/json/list", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var targets []struct{ Type, WebSocketDebuggerURL string }
		_ = json.NewDecoder(resp.Body).Decode(&targets)
		for _, tg := range targets {
			if tg.Type == "page" && tg.WebSocketDebuggerURL != "" {
				wsURL = tg.WebSocketDebuggerURL
				return true
			}
		}
		return false
	})
	b := &browser{t: t}
	b.dial(wsURL)
	t.Cleanup(func() { b.conn.Close() })
	return b
}

func (b *browser) dial(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		b.t.Fatal(err)
	}
	b.conn, err = net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		b.t.Fatal(err)
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	fmt.Fprintf(b.conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(nonce))
	b.r = bufio.NewReader(b.conn)
	resp, err := http.ReadResponse(b.r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.t.Fatalf("websocket handshake: %v %v", resp, err)
	}
}

func (b *browser) writeText(p []byte) {
	header := []byte{0x81} // FIN, text
	switch n := len(p); {
	case n < 126:
		header = append(header, 0x80|byte(n))
	case n < 1<<16:
		header = append(header, 0x80|126, byte(n>>8), byte(n))
	default:
		header = be.BigEndian.AppendUint64(append(header, 0x80|127), uint64(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	masked := make([]byte, len(p))
	for i := range p {
		masked[i] = p[i] ^ mask[i%4]
	}
	if _, err := b.conn.Write(append(append(header, mask...), masked...)); err != nil {
		b.t.Fatal(err)
	}
}

// readMessage reads one whole message, joining fragments.
func (b *browser) readMessage() []byte {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(b.r, h[:]); err != nil {
			b.t.Fatalf("websocket read: %v", err)
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			_, _ = io.ReadFull(b.r, ext[:])
			n = uint64(be.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			_, _ = io.ReadFull(b.r, ext[:])
			n = be.BigEndian.Uint64(ext[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(b.r, p); err != nil {
			b.t.Fatalf("websocket read: %v", err)
		}
		if op := h[0] & 0x0f; op == 0x8 {
			b.t.Fatal("chromium closed the DevTools connection")
		} else if op == 0x9 || op == 0xa {
			continue // ping, pong
		}
		msg = append(msg, p...)
		if h[0]&0x80 != 0 {
			return msg
		}
	}
}

// call runs one CDP method and returns its result, skipping events.
func (b *browser) call(method string, params any, result any) {
	b.t.Helper()
	b.next++
	req, _ := json.Marshal(map[string]any{"id": b.next, "method": method, "params": params})
	_ = b.conn.SetDeadline(time.Now().Add(30 * time.Second))
	b.writeText(req)
	for {
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct{ Message string }
		}
		if err := json.Unmarshal(b.readMessage(), &resp); err != nil || resp.ID != b.next {
			continue
		}
		if resp.Error != nil {
			b.t.Fatalf("%s: %s", method, resp.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(resp.Result, result); err != nil {
				b.t.Fatalf("%s result: %v", method, err)
			}
		}
		return
	}
}

// eval evaluates a JavaScript expression in the page and returns its value as a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	var out struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
	}
	b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &out)
	if out.Result.Value == nil {
		return ""
	}
	return fmt.Sprint(out.Result.Value)
}

func (b *browser) navigate(u string) {
	b.t.Helper()
	b.call("Page.navigate", map[string]any{"url": u}, nil)
}

// waitFor polls until the page is loaded at a URL with the prefix and its text contains text.
func (b *browser) waitFor(prefix, text string) {
	b.t.Helper()
	eventually(b.t, 30*time.Second, fmt.Sprintf("a page at %s showing %q", prefix, text), func() bool {
		return b.eval("document.readyState") == "complete" && strings.HasPrefix(b.eval("location.href"), prefix) &&
			strings.Contains(b.eval("document.body ? document.body.innerText : ''"), text)
	})
}

// click presses the element the CSS selector finds.
func (b *browser) click(selector string) {
	b.t.Helper()
	q, _ := json.Marshal(selector)
	if got := b.eval(fmt.Sprintf("(function(){var e=document.querySelector(%s); if(!e) return 'missing'; e.click(); return 'ok'})()", q)); got != "ok" {
		b.t.Fatalf("click %s: %s in %s", selector, got, b.eval("document.documentElement.outerHTML"))
	}
}

// screenshot saves the page as a PNG.
func (b *browser) screenshot(path string) {
	b.t.Helper()
	var out struct{ Data string }
	b.call("Page.captureScreenshot", map[string]any{"format": "png"}, &out)
	png, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
