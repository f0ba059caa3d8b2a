package api_test

import (
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paysync/paysync/api"
)

// Issue 10 item 9: with PAYSYNC_DASHBOARD_USERS set, /monitoring/ takes
// the operators' Basic credentials and no tenant's API key, not even one
// of the organization that opens it by default.
func TestMonitoringOperatorCredentials(t *testing.T) {
	var reached []string
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.URL.Path)
		io.WriteString(w, "dashboard")
	})
	const password = "operator-pass-7f3a9c1e2b"
	h := newHarness(t, sqliteDSN(t), func(d *api.Deps) {
		d.Monitoring = stub
		d.MonitoringOrganization = "acme"
		d.DashboardUsers = map[string][32]byte{"ops": sha256.Sum256([]byte(password))}
	})
	_, otherKey := h.newOrganization("other")

	get := func(set func(*http.Request)) *http.Response {
		req, _ := http.NewRequest("GET", h.url+"/monitoring/api/queues", nil)
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	refused := []struct {
		name string
		set  func(*http.Request)
	}{
		{"no credentials", func(*http.Request) {}},
		{"another organization's key as password", func(r *http.Request) { r.SetBasicAuth("ops", otherKey) }},
		{"another organization's key as bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+otherKey) }},
		{"the dashboard organization's own key", func(r *http.Request) { r.SetBasicAuth("anyone", h.key) }},
		{"the dashboard organization's key as bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+h.key) }},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("ops", password+"x") }},
		{"unknown user", func(r *http.Request) { r.SetBasicAuth("ops2", password) }},
	}
	for _, c := range refused {
		resp := get(c.set)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", c.name, resp.StatusCode)
		}
		if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic realm=") {
			t.Errorf("%s: WWW-Authenticate = %q", c.name, got)
		}
	}
	if len(reached) != 0 {
		t.Fatalf("the dashboard was reached without operator credentials: %v", reached)
	}
	if resp := get(func(r *http.Request) { r.SetBasicAuth("ops", password) }); resp.StatusCode != http.StatusOK {
		t.Fatalf("operator credentials: status %d, want 200", resp.StatusCode)
	}
	if len(reached) != 1 || reached[0] != "/monitoring/api/queues" {
		t.Fatalf("dashboard saw %v", reached)
	}
	if strings.Contains(h.logs.String(), password) {
		t.Error("a password reached the log")
	}
}

// Without operator credentials the dashboard keeps taking the keys of its
// organization only: another tenant's key is refused.
func TestMonitoringRefusesOtherOrganizationsKey(t *testing.T) {
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dashboard") })
	h := newHarness(t, sqliteDSN(t), func(d *api.Deps) { d.Monitoring = stub; d.MonitoringOrganization = "acme" })
	_, otherKey := h.newOrganization("other")
	for key, want := range map[string]int{otherKey: http.StatusForbidden, h.key: http.StatusOK} {
		req, _ := http.NewRequest("GET", h.url+"/monitoring/", nil)
		req.SetBasicAuth("anyone", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("key of %s: status %d, want %d", map[bool]string{true: "acme", false: "other"}[key == h.key], resp.StatusCode, want)
		}
	}
}
