package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/api"
	"github.com/paysync/paysync/config"
	"github.com/paysync/paysync/internal/app"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newCommand("migrate", "migrate [up|status]",
		"up (the default) applies the pending database migrations and exits; status lists the\napplied and the pending ones without changing anything.", adminVars)
	if err := c.parse(args, 1, stdout); err != nil {
		return err
	}
	action := c.fs.Arg(0)
	if action != "" && action != "up" && action != "status" {
		return &usageError{fmt.Sprintf("paysync migrate: %q is not up or status\n%s", action, c.usage())}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if action == "status" {
		return migrateStatus(ctx, cfg, stdout)
	}
	db, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stderr, "paysync: migrations applied")
	return nil
}

func migrateStatus(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	db, err := app.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	ms, err := db.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	pending := 0
	for _, m := range ms {
		if m.AppliedAt.IsZero() {
			pending++
			fmt.Fprintf(stdout, "pending  %s\n", m.Name)
			continue
		}
		fmt.Fprintf(stdout, "applied  %s  %s\n", m.Name, m.AppliedAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	fmt.Fprintf(stdout, "%d applied, %d pending\n", len(ms)-pending, pending)
	return nil
}

func apikey(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	group := "usage: paysync apikey create [--org=NAME] [--create-org]\n       paysync apikey revoke < keyfile\n\nRun 'paysync apikey create --help' or 'paysync apikey revoke --help' for details."
	group += "\n\n" + envUsage(adminVars)
	if len(args) == 0 {
		return &usageError{"paysync apikey: create or revoke?\n" + group}
	}
	switch args[0] {
	case "create":
		return createKey(ctx, args[1:], getenv, stdout)
	case "revoke":
		return revokeKey(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, group)
		return nil
	default:
		return &usageError{fmt.Sprintf("paysync apikey: unknown command %q\n%s", args[0], group)}
	}
}

func createKey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := newCommand("apikey create", "apikey create [--org=NAME] [--create-org]",
		"Creates an API key for an organization and prints it (only its hash is stored).", adminVars)
	org := c.fs.String("org", config.DefaultOrganization, "organization name")
	create := c.fs.Bool("create-org", false, "create the organization when it does not exist")
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	db, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	var o *paysync.Organization
	// The default organization exists from the first start; creating it
	// here lets a key be made before that start.
	if *create || *org == config.DefaultOrganization {
		o, err = db.EnsureOrganization(ctx, *org)
	} else if o, err = db.OrganizationByName(ctx, *org); paysync.ErrorCode(err) == paysync.ENOTFOUND {
		// A typo must not create a tenant.
		return fmt.Errorf("--org: no organization %q; pass --create-org to create it", *org)
	}
	if err != nil {
		return err
	}
	key, err := app.NewKey()
	if err != nil {
		return err
	}
	if err := db.AddAPIKey(ctx, o.ID, api.HashKey(key)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	return nil
}

func resync(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newCommand("resync", "resync --org=NAME --external-id=ID [--sync]",
		"Starts a new sync generation for one customer: after a permanent failure, or to re-read\nits payment methods. Prints the customer's link as JSON.", allVars)
	org := c.fs.String("org", config.DefaultOrganization, "organization name")
	ext := c.fs.String("external-id", "", "the customer's external id (required)")
	inline := c.fs.Bool("sync", false, "run the provider work now instead of in the background")
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	if *ext == "" {
		return &usageError{"paysync resync: --external-id is required\n" + c.usage()}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, stderr), stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.SandboxMode() {
		return fmt.Errorf("resync: the sandbox emulators live inside the serving process; use POST /api/v1/customers/{external_id}/resync there")
	}
	if a.EmbeddedRedis != nil && !*inline {
		return fmt.Errorf("resync: REDIS_URL is not set, so a background job would be lost; pass --sync or set REDIS_URL")
	}
	o, err := a.DB.OrganizationByName(ctx, *org)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return fmt.Errorf("--org: no organization %q", *org)
	}
	if err != nil {
		return err
	}
	cu, err := a.Service.Resync(ctx, o.ID, *ext, *inline)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]any{
		"external_id": cu.ExternalID, "provider": cu.Link.Provider, "state": cu.Link.State,
		"generation": cu.Link.Generation, "provider_customer_id": cu.Link.ProviderCustomerID,
	})
}

// revokeKey removes the key read from standard input (not an argument, which
// would stay in the shell's history). Running processes stop accepting it
// within their one-minute key cache.
func revokeKey(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newCommand("apikey revoke", "apikey revoke < keyfile",
		"Revokes the API key read from standard input (not an argument, which would stay in the\nshell's history). Running processes stop accepting it within a minute.", adminVars)
	if err := c.parse(args, 0, stdout); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	key, err := readKey(stdin)
	if err != nil {
		return err
	}
	db, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RevokeAPIKey(ctx, api.HashKey(key)); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	fmt.Fprintln(stderr, "paysync: key revoked; remove it from PAYSYNC_API_KEY or PAYSYNC_CONFIG too, or the next start adds it again")
	return nil
}

func readKey(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("revoke: no key on standard input")
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", errors.New("revoke: no key on standard input")
	}
	return key, nil
}
