// Command paysync serves the customer API, runs the sync workers and the
// retry dashboard, and administers the database.
//
//	paysync serve [--role=all|api|worker]
//	paysync migrate [up|status]
//	paysync apikey create [--org=NAME] [--create-org]
//	paysync apikey revoke < keyfile
//	paysync resync --org=NAME --external-id=ID [--sync]
//	paysync import --connection=CODE [--match=...] [--create-missing] [--dry-run]
//	paysync sync-run --mode=resync|refresh|link_missing [filters]
//	paysync healthcheck [--url=URL]
//	paysync version
//
// Every command answers --help with its flags and the environment
// variables it reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/paysync/paysync/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	var ue *usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, ue.Error())
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "paysync: "+oneLine(err.Error()))
		os.Exit(1)
	}
}

// oneLine joins a multi-line error (pgx lists one line per attempt) into
// one line, dropping repeated lines, so that a failed start-up is one line
// of the log.
func oneLine(s string) string {
	var parts []string
	seen := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		parts = append(parts, l)
	}
	return strings.Join(parts, " ")
}

// usageError is a command line paysync does not understand: main prints it
// (with the usage) and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `usage: paysync COMMAND [flags]

Commands:
  serve [--role=all|api|worker]       API + worker + dashboard (all), or one part
  migrate [up|status]                 apply the database migrations, or list them
  apikey create [--org=NAME]          create an API key for an organization and print it
  apikey revoke < keyfile             revoke the API key read from standard input
  resync --org=NAME --external-id=ID [--sync]
                                      start a new sync generation for one customer
  import --connection=CODE [--dry-run] [--create-missing]
                                      adopt the customers a provider already has, with progress
  sync-run --mode=resync|refresh|link_missing [filters]
                                      resync, refresh or link many customers, with progress
  sandbox seed --provider=P --count=N seed a sandbox emulator with N provider customers
  healthcheck [--url=URL]             GET a health URL: exit 0 when it answers 2xx (container probes)
  version                             print the version and VCS revision

Run 'paysync COMMAND --help' for a command's flags and environment variables.`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := dispatch(ctx, args, getenv, stdin, stdout, stderr); !errors.Is(err, errHelp) {
		return err
	}
	return nil
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{"paysync: no command given\n" + usage + "\n\n" + envUsage(allVars)}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stdout, stderr)
	case "apikey":
		return apikey(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "resync":
		return resync(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, args[1:], getenv, stdout, stderr)
	case "sync-run":
		return syncRunCmd(ctx, args[1:], getenv, stdout, stderr)
	case "sandbox":
		return sandboxCmd(ctx, args[1:], getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args[1:], getenv, stdout)
	case "version":
		return version(args[1:], stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage+"\n\n"+envUsage(allVars))
		return nil
	default:
		return &usageError{fmt.Sprintf("paysync: unknown command %q\n%s", args[0], usage)}
	}
}

// allVars are the environment variables of the commands that start paysync
// (serve, resync); adminVars those of the commands that only open the
// database. config.Load validates every variable in both cases.
var (
	allVars   = config.Vars
	adminVars = []config.Var{config.Vars[0]}
)

func envUsage(vars []config.Var) string {
	if len(vars) == 0 {
		return "Environment: none."
	}
	var b strings.Builder
	b.WriteString("Environment:")
	for _, v := range vars {
		def := ""
		if v.Default != "" {
			def = " (default " + v.Default + ")"
		}
		fmt.Fprintf(&b, "\n  %-28s %s%s", v.Name, v.Usage, def)
	}
	return b.String()
}

// command is one command's flag set and help.
type command struct {
	fs       *flag.FlagSet
	synopsis string // after "usage: paysync "
	about    string
	vars     []config.Var
}

func newCommand(name, synopsis, about string, vars []config.Var) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parse reports errors and prints the usage itself: help goes to
	// stdout, mistakes to stderr.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{fs: fs, synopsis: synopsis, about: about, vars: vars}
}

func (c *command) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: paysync %s\n\n%s\n", c.synopsis, c.about)
	n := 0
	c.fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nFlags:\n")
		c.fs.SetOutput(&b)
		c.fs.PrintDefaults()
		c.fs.SetOutput(io.Discard)
	} else {
		b.WriteString("\nFlags: none.\n")
	}
	b.WriteString("\n" + envUsage(c.vars))
	return b.String()
}

// errHelp tells run that --help was answered: nothing else to do.
var errHelp = errors.New("help shown")

// parse parses args, which must leave at most maxArgs positional
// arguments. --help prints the usage to stdout and returns errHelp; a
// mistake is a *usageError.
func (c *command) parse(args []string, maxArgs int, stdout io.Writer) error {
	err := c.fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, c.usage())
		return errHelp
	case err != nil:
		return &usageError{fmt.Sprintf("paysync %s: %v\n%s", c.fs.Name(), err, c.usage())}
	case slices.ContainsFunc(c.fs.Args(), isHelp):
		// Flags stop at the first argument: "migrate status --help".
		fmt.Fprintln(stdout, c.usage())
		return errHelp
	case c.fs.NArg() > maxArgs:
		return &usageError{fmt.Sprintf("paysync %s: unexpected argument %q\n%s", c.fs.Name(), c.fs.Arg(maxArgs), c.usage())}
	}
	return nil
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }
