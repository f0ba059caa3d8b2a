// Command paysync serves the customer API, runs the sync workers and the
// retry dashboard, and administers the database.
//
//	paysync serve [--role=all|api|worker]
//	paysync migrate
//	paysync apikey create [--org=default]
//	paysync apikey revoke < keyfile
//	paysync resync --org=default --external-id=ID [--sync]
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "paysync:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  paysync serve [--role=all|api|worker]   API + worker + dashboard (all), or one part
  paysync migrate                         apply database migrations and exit
  paysync apikey create [--org=NAME]      create an API key for an organization and print it
  paysync apikey revoke < keyfile         revoke the API key read from standard input
  paysync resync --org=NAME --external-id=ID [--sync]
                                          start a new sync generation for one customer`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command given\n%s", usage)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, getenv, stderr)
	case "apikey":
		return apikey(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "resync":
		return resync(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}
