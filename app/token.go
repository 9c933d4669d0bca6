package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/imagenes/imagenes/internal/auth"
)

// tokenCmd mints an HS256 token with JWT_SECRET, for local use and tests.
func tokenCmd(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "the token's subject (user id)")
	role := fs.String("role", "", `"admin" for an admin token`)
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	if *sub == "" {
		return fmt.Errorf("%w: token: --sub is required", errUsage)
	}
	if *role != "" && *role != "admin" {
		return fmt.Errorf("%w: token: --role must be admin or absent", errUsage)
	}
	if *ttl <= 0 {
		return fmt.Errorf("%w: token: --ttl must be positive", errUsage)
	}
	tok, err := auth.Mint(auth.Config{Secret: cfg.JWTSecret, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience},
		*sub, *role == "admin", *ttl, time.Now())
	if err != nil {
		return fmt.Errorf("%w: token: %w", errUsage, err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
