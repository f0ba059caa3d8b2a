package webhooksend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paysync/paysync/sandbox/webhooksend"
)

var policy = webhooksend.Policy{Name: "testemu", Attempts: 3, Backoff: 5 * time.Millisecond, Growth: 2}

// request is one POST as the endpoint saw it.
type request struct {
	body   string
	header http.Header
}

// endpoint records requests and answers with the statuses in answers, then
// 200 "ok".
type endpoint struct {
	mu      sync.Mutex
	got     []request
	answers []int
	url     string
}

func newEndpoint(t *testing.T, answers ...int) *endpoint {
	t.Helper()
	en := &endpoint{answers: answers}
	srv := httptest.NewServer(en)
	t.Cleanup(srv.Close)
	en.url = srv.URL
	return en
}

func (en *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	en.mu.Lock()
	en.got = append(en.got, request{body: string(body), header: r.Header.Clone()})
	status := http.StatusOK
	if len(en.answers) > 0 {
		status, en.answers = en.answers[0], en.answers[1:]
	}
	en.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "ok")
}

func (en *endpoint) requests() []request {
	en.mu.Lock()
	defer en.mu.Unlock()
	return append([]request(nil), en.got...)
}

func wait(t *testing.T, s *webhooksend.Sender[string]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// text is a message carrying body, signed with the endpoint's secret.
func text(body string) func(string) webhooksend.Message[string] {
	return func(secret string) webhooksend.Message[string] {
		return webhooksend.Message[string]{
			Body:   []byte(body),
			Header: http.Header{"Content-Type": {"text/plain"}, "Signature": {secret + ":" + body}},
			Meta:   "kind-" + body,
		}
	}
}

func TestOrderedDeliveryAndLog(t *testing.T) {
	t.Parallel()
	s := webhooksend.New[string](policy)
	built := false
	if s.Send(func(string) webhooksend.Message[string] { built = true; return webhooksend.Message[string]{} }) || built {
		t.Error("a message was built without an endpoint")
	}
	en := newEndpoint(t)
	s.SetEndpoint(en.url, nil, "k")
	for i := range 20 {
		if !s.Send(text(strconv.Itoa(i))) {
			t.Fatal("Send with an endpoint reported none")
		}
	}
	wait(t, s)
	got := en.requests()
	if len(got) != 20 {
		t.Fatalf("%d requests, want 20", len(got))
	}
	for i, r := range got {
		if r.body != strconv.Itoa(i) || r.header.Get("Signature") != "k:"+r.body || r.header.Get("Content-Type") != "text/plain" {
			t.Errorf("request %d: %q %v", i, r.body, r.header)
		}
	}
	log := s.Log()
	if len(log) != 20 {
		t.Fatalf("log has %d entries", len(log))
	}
	for i, d := range log {
		if string(d.Body) != strconv.Itoa(i) || d.Meta != "kind-"+strconv.Itoa(i) || d.URL != en.url || d.Resend ||
			!d.Accepted || !d.Done || d.Attempts != 1 || d.Status != 200 || d.Response != "ok" || d.Err != nil || d.Problem() != nil {
			t.Errorf("log %d: %+v", i, d)
		}
	}
	// The log is a copy.
	log[0].Body[0] = 'x'
	log[0].Header.Set("Signature", "changed")
	if d := s.Log()[0]; string(d.Body) != "0" || d.Header.Get("Signature") != "k:0" {
		t.Errorf("the log changed with its copy: %+v", d)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	t.Parallel()
	s := webhooksend.New[string](policy)
	en := newEndpoint(t, 500, 503, 200, 500, 500, 500)
	s.SetEndpoint(en.url, nil, "k")
	begin := time.Now()
	s.Send(text("a")) // 500, 503, then 200
	s.Send(text("b")) // 500, 500, 500: given up on
	s.Send(text("c")) // 200
	wait(t, s)
	// Pauses of 5 and 10 ms, twice.
	if d := time.Since(begin); d < 30*time.Millisecond || d > 5*time.Second {
		t.Errorf("the deliveries took %s", d)
	}
	var bodies []string
	for _, r := range en.requests() {
		bodies = append(bodies, r.body)
	}
	if strings.Join(bodies, "") != "aaabbbc" {
		t.Errorf("requests %v, want three of a, three of b, one of c, in order", bodies)
	}
	log := s.Log()
	if a := log[0]; !a.Accepted || a.Attempts != 3 || a.Status != 200 {
		t.Errorf("a: %+v", a)
	}
	if b := log[1]; b.Accepted || !b.Done || b.Attempts != 3 || b.Status != 500 || b.Problem() == nil || !strings.Contains(b.Problem().Error(), "500") {
		t.Errorf("b: %+v (%v)", b, b.Problem())
	}
	if c := log[2]; !c.Accepted || c.Attempts != 1 {
		t.Errorf("c: %+v", c)
	}
}

func TestAcceptedAndUnreachable(t *testing.T) {
	t.Parallel()
	s := webhooksend.New[string](policy)
	en := newEndpoint(t)
	s.SetEndpoint(en.url, nil, "k")
	s.Send(func(string) webhooksend.Message[string] {
		return webhooksend.Message[string]{Body: []byte("picky"), Accepted: func(status int, answer string) bool {
			return status == 200 && answer == "[accepted]"
		}}
	})
	wait(t, s)
	d := s.Log()[0]
	if d.Accepted || d.Attempts != 3 || d.Status != 200 || d.Response != "ok" || !strings.Contains(fmt.Sprint(d.Problem()), `"ok"`) {
		t.Errorf("a 200 without the acknowledgement: %+v (%v)", d, d.Problem())
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	s.SetEndpoint(dead.URL, nil, "k")
	s.Send(text("lost"))
	wait(t, s)
	if d := s.Log()[1]; d.Accepted || !d.Done || d.Attempts != 3 || d.Status != 0 || d.Err == nil || d.Problem() != d.Err {
		t.Errorf("a closed endpoint: %+v", d)
	}
}

func TestStampAndResend(t *testing.T) {
	t.Parallel()
	s := webhooksend.New[string](policy)
	if err := s.Resend(); err == nil || !strings.HasPrefix(err.Error(), "testemu: ") {
		t.Errorf("Resend with nothing sent: %v", err)
	}
	en := newEndpoint(t, 500)
	s.SetEndpoint(en.url, nil, "k")
	var n atomic.Int64
	s.Send(func(secret string) webhooksend.Message[string] {
		return webhooksend.Message[string]{
			Body: []byte("stamped"), Header: http.Header{"Static": {"1"}}, Meta: "m",
			Stamp: func(h http.Header) { h.Set("Attempt", strconv.FormatInt(n.Add(1), 10)+"/"+secret) },
		}
	})
	wait(t, s)
	if err := s.Resend(); err != nil {
		t.Fatal(err)
	}
	got := en.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 2 attempts and a replay", len(got))
	}
	if got[0].header.Get("Attempt") != "1/k" || got[1].header.Get("Attempt") != "2/k" || got[1].header.Get("Static") != "1" {
		t.Errorf("attempts not stamped anew: %v, %v", got[0].header, got[1].header)
	}
	if got[2].body != got[1].body || got[2].header.Get("Attempt") != "2/k" || got[2].header.Get("Static") != "1" {
		t.Errorf("the replay %q %v differs from the last request %q %v", got[2].body, got[2].header, got[1].body, got[1].header)
	}
	log := s.Log()
	if r := log[len(log)-1]; len(log) != 2 || !r.Resend || r.Meta != "m" || r.Attempts != 1 || !r.Accepted {
		t.Errorf("the replay is logged as %+v", r)
	}

	// A replay is one attempt; a refusal is an error naming the endpoint.
	en.mu.Lock()
	en.answers = []int{http.StatusBadRequest}
	en.mu.Unlock()
	if err := s.Resend(); err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), en.url) {
		t.Errorf("a refused replay: %v", err)
	}
	if n := len(en.requests()); n != 4 {
		t.Errorf("%d requests after a refused replay, want 4", n)
	}

	s.SetEndpoint("", nil, "")
	if err := s.Resend(); err == nil {
		t.Error("Resend with webhooks off succeeded")
	}
	if s.Send(text("off")) {
		t.Error("Send with webhooks off queued a message")
	}
}

func TestAddEndpoint(t *testing.T) {
	t.Parallel()
	s := webhooksend.New[string](policy)
	a, b := newEndpoint(t), newEndpoint(t, 403, 403, 403, 403)
	s.AddEndpoint(a.url, nil, "ka")
	s.AddEndpoint(b.url, nil, "kb")
	s.AddEndpoint(a.url, &http.Client{Timeout: time.Second}, "ka2") // the same endpoint: no second copy
	s.Send(text("x"))
	wait(t, s)
	if ga, gb := a.requests(), b.requests(); len(ga) != 1 || len(gb) != 3 ||
		ga[0].header.Get("Signature") != "ka2:x" || gb[0].header.Get("Signature") != "kb:x" {
		t.Fatalf("a got %v, b got %v", ga, gb)
	}
	log := s.Log()
	if len(log) != 2 || log[0].URL != a.url || !log[0].Accepted || log[1].URL != b.url || log[1].Status != 403 {
		t.Errorf("log %+v", log)
	}
	// A replay goes to every endpoint; only the refusing one is named.
	err := s.Resend()
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), b.url) || strings.Contains(err.Error(), a.url) {
		t.Errorf("Resend: %v", err)
	}
	s.AddEndpoint("", nil, "")
	if s.Send(text("off")) {
		t.Error("an empty url did not turn webhooks off")
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	s := webhooksend.New[string](policy)
	if err := s.Wait(context.Background()); err != nil {
		t.Fatalf("Wait with nothing queued: %v", err)
	}
	s.SetEndpoint(srv.URL, nil, "")
	s.Send(text("slow"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait on a stuck delivery: %v", err)
	}
	if d := s.Log()[0]; d.Done || d.Attempts != 0 {
		t.Errorf("an unfinished delivery is logged as %+v", d)
	}
}

func TestLogKeepsTheLatest(t *testing.T) {
	t.Parallel()
	s := webhooksend.New[string](webhooksend.Policy{Name: "testemu", Attempts: 1})
	en := newEndpoint(t)
	s.SetEndpoint(en.url, nil, "")
	for i := range webhooksend.LogSize + 10 {
		s.Send(text(strconv.Itoa(i)))
	}
	wait(t, s)
	log := s.Log()
	if len(log) != webhooksend.LogSize || string(log[0].Body) != "10" || string(log[len(log)-1].Body) != strconv.Itoa(webhooksend.LogSize+9) {
		t.Errorf("log of %d entries from %s to %s", len(log), log[0].Body, log[len(log)-1].Body)
	}
}
