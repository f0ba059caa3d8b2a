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
	if f.Injected() != 4 || f.Requests() != 5 || f.RateLimited() != 1 {
		t.Errorf("injected %d of %d requests (%d rate limited), want 4 of 5 (1)", f.Injected(), f.Requests(), f.RateLimited())
	}
	resp, err := http.Get(ctl.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var counts struct{ Requests, Injected, RateLimited int }
	if err := json.NewDecoder(resp.Body).Decode(&struct {
		Requests    *int `json:"requests"`
		Injected    *int `json:"injected"`
		RateLimited *int `json:"rate_limited"`
	}{&counts.Requests, &counts.Injected, &counts.RateLimited}); err != nil {
		t.Fatal(err)
	}
	if counts.Requests != 5 || counts.Injected != 4 || counts.RateLimited != 1 {
		t.Errorf("GET /_faults counts: %+v, want 5 requests, 4 injected, 1 rate limited", counts)
	}
}
