package providers_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The adapters talk to providers, real or emulated, only through their
// connection's credentials and base URL: nothing under providers/ may
// depend on the sandbox (the emulators), which is wired in by the commands.
func TestProvidersDoNotImportTheSandbox(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./providers/...")
	cmd.Dir = ".." // the module root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if !strings.Contains(string(out), "/providers/stripe\n") {
		t.Fatalf("go list did not list the adapters:\n%s", out)
	}
	for _, p := range pkgs {
		if strings.Contains(p, "/sandbox/") || strings.HasSuffix(p, "/sandbox") {
			t.Errorf("a providers package depends on %s", p)
		}
	}
}
