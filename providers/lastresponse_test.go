package providers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// answering serves each request the status named by its ?status= (200 by
// default), with a Retry-After and a body naming the status.
func answering(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, err := strconv.Atoi(r.URL.Query().Get("status"))
		if err != nil {
			status = http.StatusOK
		}
		w.Header().Set("Retry-After", "7")
		w.Header().Set("X-Status", strconv.Itoa(status))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "body "+strconv.Itoa(status))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fetch GETs u through client with ctx and returns the body the client read.
func fetch(t *testing.T, client *http.Client, ctx context.Context, u string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecordingTransport(t *testing.T) {
	t.Parallel()
	srv := answering(t)
	// The zero value sends through http.DefaultTransport.
	client := &http.Client{Transport: RecordingTransport{}}

	t.Run("status and headers, no body", func(t *testing.T) {
		ctx, last := WithLastResponse(context.Background())
		if got := fetch(t, client, ctx, srv.URL+"?status=429"); got != "body 429" {
			t.Errorf("client read %q", got)
		}
		if last.Status != 429 || last.Header.Get("Retry-After") != "7" || last.Body != nil {
			t.Errorf("recorded %d, %v, body %q", last.Status, last.Header, last.Body)
		}
		fetch(t, client, ctx, srv.URL)
		if last.Status != 200 || last.Header.Get("X-Status") != "200" || last.Body != nil {
			t.Errorf("second request: recorded %d, %v, body %q; want the last response, no body", last.Status, last.Header, last.Body)
		}
	})

	t.Run("the body of a 200 when asked", func(t *testing.T) {
		ctx, last := WithLastResponseBody(context.Background())
		if got := fetch(t, client, ctx, srv.URL); got != "body 200" {
			t.Errorf("client read %q after the body was recorded", got)
		}
		if last.Status != 200 || string(last.Body) != "body 200" {
			t.Errorf("recorded %d, body %q", last.Status, last.Body)
		}
		if got := fetch(t, client, ctx, srv.URL+"?status=502"); got != "body 502" {
			t.Errorf("client read %q", got)
		}
		if last.Status != 502 || last.Body != nil {
			t.Errorf("recorded %d, body %q; want 502 without a body", last.Status, last.Body)
		}
	})

	t.Run("a context without a holder passes through", func(t *testing.T) {
		if got := fetch(t, client, context.Background(), srv.URL+"?status=502"); got != "body 502" {
			t.Errorf("client read %q", got)
		}
	})

	t.Run("no answer records nothing", func(t *testing.T) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		ctx, last := WithLastResponse(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, closed.URL, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("a closed server answered")
		}
		if last.Status != 0 || last.Header != nil {
			t.Errorf("recorded %d, %v", last.Status, last.Header)
		}
	})
}
