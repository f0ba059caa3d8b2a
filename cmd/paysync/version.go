package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

func version(args []string, stdout io.Writer) error {
	c := newCommand("version", "version", "Prints paysync's module version, the VCS revision it was built from and the Go version.", nil)
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(info))
	return nil
}

// versionLine describes a build: "paysync v1.2.0 (revision 0123abc, 2026-12-05T07:00:00Z) go1.26.8".
// A build without module or VCS information (go run, go test, -buildvcs=false)
// says so instead of inventing a version.
func versionLine(info *debug.BuildInfo) string {
	if info == nil {
		return "paysync (unknown version: built without module information)"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	vcs := "revision unknown"
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if modified {
			rev += "+dirty"
		}
		vcs = "revision " + rev
		if at != "" {
			vcs += ", " + at
		}
	}
	return fmt.Sprintf("paysync %s (%s) %s", v, vcs, info.GoVersion)
}
