package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, ":9090"},
		{map[string]string{"PAYSYNC_METRICS_ADDR": "127.0.0.1:9100"}, "127.0.0.1:9100"},
		{map[string]string{"PAYSYNC_METRICS_ADDR": "off"}, ""},
	} {
		c, err := Load(env(tc.env))
		if err != nil || c.MetricsAddr != tc.want {
			t.Errorf("%v: MetricsAddr %q, %v; want %q", tc.env, c.MetricsAddr, err, tc.want)
		}
	}
	for _, bad := range []map[string]string{
		{"PAYSYNC_METRICS_ADDR": "9090"},
		{"PAYSYNC_METRICS_ADDR": ":8080"}, // the API's default port
		{"PAYSYNC_ADDR": "127.0.0.1:7000", "PAYSYNC_METRICS_ADDR": "0.0.0.0:7000"},
	} {
		if _, err := Load(env(bad)); err == nil || !strings.Contains(err.Error(), "PAYSYNC_METRICS_ADDR") {
			t.Errorf("%v: %v, want an error naming PAYSYNC_METRICS_ADDR", bad, err)
		}
	}
}

func TestDashboardUsers(t *testing.T) {
	sum := sha256.Sum256([]byte("correct horse battery staple"))
	hexSum := hex.EncodeToString(sum[:])
	c, err := Load(env(map[string]string{"PAYSYNC_DASHBOARD_USERS": "alice:sha256:" + hexSum + ", bob:sha256:" + strings.ToUpper(hexSum)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.DashboardUsers) != 2 || c.DashboardUsers["alice"] != sum || c.DashboardUsers["bob"] != sum {
		t.Fatalf("DashboardUsers = %v", c.DashboardUsers)
	}
	if c, err := Load(env(nil)); err != nil || c.DashboardUsers != nil {
		t.Fatalf("unset: %v %v", c.DashboardUsers, err)
	}
	for _, bad := range []string{
		"alice:secret-password",                              // a password, not a hash
		"alice:sha256:" + hexSum[:62],                        // short digest
		":sha256:" + hexSum,                                  // no user
		"alice:sha256:" + hexSum + ",alice:sha256:" + hexSum, // twice
	} {
		_, err := Load(env(map[string]string{"PAYSYNC_DASHBOARD_USERS": bad}))
		if err == nil || !strings.Contains(err.Error(), "PAYSYNC_DASHBOARD_USERS") {
			t.Errorf("%q: %v, want an error naming PAYSYNC_DASHBOARD_USERS", bad, err)
			continue
		}
		if strings.Contains(err.Error(), "secret-password") || strings.Contains(err.Error(), hexSum[:20]) {
			t.Errorf("%q: the error echoes the value: %v", bad, err)
		}
	}
}
