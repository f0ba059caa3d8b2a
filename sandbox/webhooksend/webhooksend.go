// Package webhooksend is the webhook delivery machinery the provider
// emulators (stripeemu, adyenemu, gocardlessemu, braintreeemu) share: one
// ordered queue per emulator, worked by one background goroutine, with a few
// bounded retries and a growing backoff; a log of the latest deliveries; a
// byte-for-byte replay of the last request sent; and a wait for the queue to
// drain.
//
// What stays with each emulator is what is its provider's own: the bodies it
// builds, the headers that sign them (built by the emulator with the
// endpoint's secret) and what answer acknowledges a webhook. Real providers
// retry for hours or days; an emulator serves tests and a sandbox, so it
// retries a few times within a second.
package webhooksend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Timeout cuts off each attempt.
const Timeout = 10 * time.Second

// LogSize is how many deliveries a Sender's log keeps: the latest ones.
const LogSize = 256

// answerSize is how much of an answer's body a delivery keeps.
const answerSize = 4 << 10

// Policy is how an emulator retries, after its provider's habits but quick.
type Policy struct {
	// Name starts the Sender's error messages, e.g. "stripeemu".
	Name string
	// Attempts is how many times a delivery is tried before it is given up
	// on; at least one.
	Attempts int
	// Backoff is the pause before the second attempt; every later pause is
	// Growth times the one before (1 or less: the same pause).
	Backoff time.Duration
	Growth  int
}

// Message is one webhook as an emulator builds it for one endpoint. M is
// what the emulator records about it in the log (its kind, event, ...).
type Message[M any] struct {
	Body   []byte
	Header http.Header
	// Stamp, when set, is called before each attempt on a copy of Header,
	// to set what every attempt carries anew: Stripe signs each attempt
	// with its own timestamp. A replay (Resend) is not stamped again.
	Stamp func(http.Header)
	// Accepted, when set, says whether an answer acknowledges the webhook;
	// nil accepts any 2xx. Adyen wants "[accepted]" for some webhooks.
	Accepted func(status int, answer string) bool
	Meta     M
}

func (m *Message[M]) accepts(status int, answer string) bool {
	if m.Accepted != nil {
		return m.Accepted(status, answer)
	}
	return status >= 200 && status <= 299
}

// Delivery is one message sent, or being sent, to one endpoint: an entry of
// the log.
type Delivery[M any] struct {
	URL  string
	Body []byte
	// Header is what the latest attempt sent; before the first attempt,
	// the message's own.
	Header http.Header
	Meta   M
	// Resend marks a replay made by Resend.
	Resend bool
	// Attempts made so far. Status is the latest answer's (0: none came,
	// Err says why) and Response the start of its body.
	Attempts int
	Status   int
	Response string
	Err      error
	// Accepted: the endpoint acknowledged the webhook. Done: no attempt is
	// left to make, because it was accepted or the attempts ran out.
	Accepted bool
	Done     bool
}

// Problem says why d is not accepted, nil when it is: the latest attempt's
// transport error or the answer that did not acknowledge it.
func (d Delivery[M]) Problem() error {
	switch {
	case d.Accepted:
		return nil
	case d.Err != nil:
		return d.Err
	case d.Attempts == 0:
		return errors.New("not sent yet")
	case d.Status >= 200 && d.Status <= 299:
		return fmt.Errorf("answered %d %q, which does not acknowledge it", d.Status, d.Response)
	}
	return fmt.Errorf("answered %d", d.Status)
}

// Endpoint is where a Sender posts, and the secret the emulator signs with
// for it.
type Endpoint struct {
	URL    string
	Client *http.Client
	Secret string
}

// Sender delivers an emulator's webhooks. It is safe for concurrent use. An
// emulator may call Send with its own lock held: the sender calls back into
// the emulator only through a Message's Stamp and Accepted, which run on the
// sender's goroutine with no lock held.
type Sender[M any] struct {
	policy Policy

	mu        sync.Mutex
	endpoints []Endpoint
	queue     []*job[M]
	// idle is closed when the worker stops, the queue drained; nil while
	// no worker runs.
	idle chan struct{}
	// last is the latest request put on the wire, its header as sent.
	last *Message[M]
	log  []*Delivery[M]
}

// job is one queued delivery.
type job[M any] struct {
	to       Endpoint
	msg      Message[M]
	attempts int
	d        *Delivery[M] // its log entry; written under Sender.mu
	done     chan struct{}
}

// New returns a Sender with no endpoint: it sends nothing until
// SetEndpoint or AddEndpoint names one.
func New[M any](p Policy) *Sender[M] {
	if p.Attempts < 1 {
		p.Attempts = 1
	}
	return &Sender[M]{policy: p}
}

func endpoint(url string, client *http.Client, secret string) Endpoint {
	if client == nil {
		client = http.DefaultClient
	}
	return Endpoint{URL: url, Client: client, Secret: secret}
}

// SetEndpoint makes url the one endpoint from now on, posted to through
// client (nil: http.DefaultClient) and signed for with secret; an empty url
// turns webhooks off. Queued deliveries keep the endpoint they were made for.
func (s *Sender[M]) SetEndpoint(url string, client *http.Client, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpoints = nil
	if url != "" {
		s.endpoints = []Endpoint{endpoint(url, client, secret)}
	}
}

// AddEndpoint adds url as one more endpoint, or, when it is one already,
// replaces its client and secret; an empty url turns webhooks off (every
// endpoint goes). Every message is sent to every endpoint, in the order
// they were added.
func (s *Sender[M]) AddEndpoint(url string, client *http.Client, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if url == "" {
		s.endpoints = nil
		return
	}
	ep := endpoint(url, client, secret)
	for i := range s.endpoints {
		if s.endpoints[i].URL == url {
			s.endpoints[i] = ep
			return
		}
	}
	s.endpoints = append(s.endpoints, ep)
}

// Send queues, for every endpoint, the message build makes with that
// endpoint's secret, and reports whether there was any endpoint. build runs
// under the sender's lock, so that messages are queued in the order Send is
// called and built only while webhooks are on; it must not call the Sender.
func (s *Sender[M]) Send(build func(secret string) Message[M]) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ep := range s.endpoints {
		s.enqueue(ep, build(ep.Secret), s.policy.Attempts, false)
	}
	return len(s.endpoints) > 0
}

// Resend replays the latest request the sender put on the wire, byte for
// byte (the same body and headers, signatures and their timestamps
// included), once, to every endpoint configured now, after whatever is
// queued; it waits for the answers. It fails when nothing was sent yet,
// when webhooks are off, or when an endpoint did not accept the replay.
func (s *Sender[M]) Resend() error {
	s.mu.Lock()
	last, eps := s.last, s.endpoints
	var jobs []*job[M]
	if last != nil {
		for _, ep := range eps {
			jobs = append(jobs, s.enqueue(ep, *last, 1, true))
		}
	}
	s.mu.Unlock()
	switch {
	case last == nil:
		return errors.New(s.policy.Name + ": no webhook was sent yet")
	case len(eps) == 0:
		return errors.New(s.policy.Name + ": webhooks are off: SendWebhooks named no endpoint")
	}
	var errs []error
	for _, j := range jobs {
		<-j.done
		s.mu.Lock()
		problem := j.d.Problem()
		s.mu.Unlock()
		if problem != nil {
			errs = append(errs, fmt.Errorf("%s: webhook to %s: %w", s.policy.Name, j.to.URL, problem))
		}
	}
	return errors.Join(errs...)
}

// Wait waits until every delivery queued so far was accepted or given up
// on, or ctx ends.
func (s *Sender[M]) Wait(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: webhooks still being delivered: %w", s.policy.Name, ctx.Err())
	}
}

// Log returns the latest LogSize deliveries, finished or not, in the order
// they were queued (which is the order they are sent in).
func (s *Sender[M]) Log() []Delivery[M] {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery[M], len(s.log))
	for i, d := range s.log {
		out[i] = *d
		out[i].Body = bytes.Clone(d.Body)
		out[i].Header = d.Header.Clone()
	}
	return out
}

// enqueue logs and queues one delivery and starts the worker if it is not
// running. s.mu is held.
func (s *Sender[M]) enqueue(to Endpoint, msg Message[M], attempts int, resend bool) *job[M] {
	d := &Delivery[M]{URL: to.URL, Body: msg.Body, Header: msg.Header, Meta: msg.Meta, Resend: resend}
	if len(s.log) == LogSize {
		s.log = append(s.log[:0:0], s.log[1:]...)
	}
	s.log = append(s.log, d)
	j := &job[M]{to: to, msg: msg, attempts: attempts, d: d, done: make(chan struct{})}
	s.queue = append(s.queue, j)
	if s.idle == nil {
		s.idle = make(chan struct{})
		go s.work()
	}
	return j
}

// work delivers the queue, oldest first, until it is empty.
func (s *Sender[M]) work() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			close(s.idle)
			s.idle = nil
			s.mu.Unlock()
			return
		}
		j := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.deliver(j)
	}
}

// deliver makes j's attempts until one is accepted or none is left.
func (s *Sender[M]) deliver(j *job[M]) {
	pause := s.policy.Backoff
	for i := 0; i < j.attempts; i++ {
		if i > 0 {
			time.Sleep(pause)
			pause *= time.Duration(max(s.policy.Growth, 1))
		}
		header := j.msg.Header.Clone()
		if header == nil {
			header = http.Header{}
		}
		if j.msg.Stamp != nil {
			j.msg.Stamp(header)
		}
		status, answer, err := post(j.to, j.msg.Body, header)
		accepted := err == nil && j.msg.accepts(status, answer)

		s.mu.Lock()
		sent := j.msg
		sent.Header, sent.Stamp = header, nil
		s.last = &sent
		d := j.d
		d.Attempts++
		d.Header, d.Status, d.Response, d.Err, d.Accepted = header, status, answer, err, accepted
		s.mu.Unlock()
		if accepted {
			break
		}
	}
	s.mu.Lock()
	j.d.Done = true
	s.mu.Unlock()
	close(j.done)
}

// post makes one attempt: the status and start of the answer, or why none
// came.
func post(to Endpoint, body []byte, header http.Header) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header = header.Clone()
	resp, err := to.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, answerSize))
	// Drain a little more, so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(answer), nil
}
