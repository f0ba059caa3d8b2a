package fault

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaultPlan(t *testing.T) {
	f := New(func(w http.ResponseWriter, status int, kind Kind) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"kind": string(kind)})
	}, nil)
	srv := httptest.NewServer(f.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })))
	defer srv.Close()
	ctl := httptest.NewServer(f.Handler())
	defer ctl.Close()

	put := func(body string) int {
		req, _ := http.NewRequest("PUT", ctl.URL, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func() *http.Response {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if put(`{"fail_next": 2, "fail": "server_error", "status": 503}`) != 200 {
		t.Fatal("plan refused")
	}
	for i, want := range []int{503, 503, 200} {
		if got := get().StatusCode; got != want {
			t.Errorf("request %d: %d, want %d", i, got, want)
		}
	}
	put(`{"fail_next": 1, "fail": "rate_limited", "retry_after": "3s"}`)
	if resp := get(); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("rate limited: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if put(`{"latency": "soon"}`) != 400 {
		t.Error("a bad duration must be refused")
	}
	put(`{"fail_next": 1, "fail": "timeout"}`)
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := client.Get(srv.URL); err == nil {
		t.Error("a timeout fault answered")
	}
	if f.Injected() != 4 || f.Requests() != 5 {
		t.Errorf("injected %d of %d requests, want 4 of 5", f.Injected(), f.Requests())
	}
}
