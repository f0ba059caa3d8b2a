package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/paysync/paysync/api"
	"github.com/paysync/paysync/config"
	"github.com/paysync/paysync/internal/app"
)

func migrate(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	db, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stderr, "paysync: migrations applied")
	return nil
}

func apikey(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "revoke" {
		return revokeKey(ctx, args[1:], getenv, stdin, stderr)
	}
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: paysync apikey create [--org=NAME] | paysync apikey revoke (the key on standard input)")
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	org := fs.String("org", config.DefaultOrganization, "organization name")
	if err := fs.Parse(args[1:]); err != nil {
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
	o, err := db.EnsureOrganization(ctx, *org)
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
	fs := flag.NewFlagSet("resync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	org := fs.String("org", config.DefaultOrganization, "organization name")
	ext := fs.String("external-id", "", "the customer's external id")
	inline := fs.Bool("sync", false, "run the provider work now instead of in the background")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ext == "" {
		return fmt.Errorf("resync: --external-id is required")
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
	o, err := a.DB.EnsureOrganization(ctx, *org)
	if err != nil {
		return err
	}
	c, err := a.Service.Resync(ctx, o.ID, *ext, *inline)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]any{
		"external_id": c.ExternalID, "provider": c.Link.Provider, "state": c.Link.State,
		"generation": c.Link.Generation, "provider_customer_id": c.Link.ProviderCustomerID,
	})
}

// revokeKey removes the key read from standard input (not an argument, which
// would stay in the shell's history). Running processes stop accepting it
// within their one-minute key cache.
func revokeKey(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("usage: paysync apikey revoke < keyfile (the key is read from standard input)")
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
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("revoke: no key on standard input")
	}
	return key, nil
}
