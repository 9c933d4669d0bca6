package config

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // substring; "" = no error
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.HTTPAddr != ":8080" || c.StorageDir != "./data" || c.TrashRetention != 168*time.Hour ||
				c.JanitorSchedule != "@every 10m" || c.JanitorMaxOrphans != 1000 || c.JanitorEnabled {
				t.Errorf("got %+v, want the documented defaults", c)
			}
		}},
		{name: "env read", env: map[string]string{"TRASH_RETENTION": "2h", "JANITOR_ENABLED": "true"}, check: func(t *testing.T, c Config) {
			if c.TrashRetention != 2*time.Hour || !c.JanitorEnabled {
				t.Errorf("got retention %s enabled %v, want 2h true", c.TrashRetention, c.JanitorEnabled)
			}
		}},
		{name: "flag wins over env", env: map[string]string{"HTTP_ADDR": ":1"}, args: []string{"--http-addr", ":2"}, check: func(t *testing.T, c Config) {
			if c.HTTPAddr != ":2" {
				t.Errorf("got %q, want :2", c.HTTPAddr)
			}
		}},
		{name: "admin roles", env: map[string]string{"JWT_ADMIN_ROLES": " 1, gerente ,"}, check: func(t *testing.T, c Config) {
			if strings.Join(c.JWTAdminRoles, "|") != "1|gerente" {
				t.Errorf("got %q, want [1 gerente]", c.JWTAdminRoles)
			}
		}},
		{name: "admin roles default", check: func(t *testing.T, c Config) {
			if strings.Join(c.JWTAdminRoles, "|") != "1" {
				t.Errorf("got %q, want [1]", c.JWTAdminRoles)
			}
		}},
		{name: "no admin role", env: map[string]string{"JWT_ADMIN_ROLES": " , "}, wantErr: "JWT_ADMIN_ROLES:"},
		{name: "jwks refresh and trusted origins default", check: func(t *testing.T, c Config) {
			if c.JWKSRefresh != time.Minute || c.TrustedOrigins != nil {
				t.Errorf("got JWKS_REFRESH %s TRUSTED_ORIGINS %q, want 1m and none", c.JWKSRefresh, c.TrustedOrigins)
			}
		}},
		{name: "trusted origins", env: map[string]string{"TRUSTED_ORIGINS": " https://panel.example , http://localhost:3000,"}, check: func(t *testing.T, c Config) {
			if strings.Join(c.TrustedOrigins, "|") != "https://panel.example|http://localhost:3000" {
				t.Errorf("got %q, want [https://panel.example http://localhost:3000]", c.TrustedOrigins)
			}
		}},
		{name: "trusted origin with a path", env: map[string]string{"TRUSTED_ORIGINS": "https://panel.example/admin"}, wantErr: "TRUSTED_ORIGINS:"},
		{name: "trusted origin without scheme", env: map[string]string{"TRUSTED_ORIGINS": "panel.example"}, wantErr: "TRUSTED_ORIGINS:"},
		{name: "short jwks refresh", env: map[string]string{"JWKS_REFRESH": "10ms"}, wantErr: "JWKS_REFRESH:"},
		{name: "bad duration", env: map[string]string{"TRASH_RETENTION": "a week"}, wantErr: "TRASH_RETENTION:"},
		{name: "bad schedule", env: map[string]string{"JANITOR_SCHEDULE": "every now and then"}, wantErr: "JANITOR_SCHEDULE:"},
		{name: "bad bool", env: map[string]string{"JANITOR_ENABLED": "yes please"}, wantErr: "JANITOR_ENABLED:"},
		{name: "negative max orphans", env: map[string]string{"JANITOR_MAX_ORPHANS": "-1"}, wantErr: "JANITOR_MAX_ORPHANS:"},
		{name: "bad log format", env: map[string]string{"LOG_FORMAT": "xml"}, wantErr: "LOG_FORMAT:"},
		{name: "short secret", env: map[string]string{"JWT_SECRET": "short"}, wantErr: "JWT_SECRET:"},
		{name: "bad jwks url", env: map[string]string{"JWKS_URL": "ftp://x"}, wantErr: "JWKS_URL:"},
		{name: "bad addr", env: map[string]string{"HTTP_ADDR": "8080"}, wantErr: "HTTP_ADDR:"},
		{name: "bad database url", env: map[string]string{"DATABASE_URL": "mysql://x"}, wantErr: "DATABASE_URL:"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "flags:"},
		{name: "storage url s3", env: map[string]string{"STORAGE_URL": "s3://fotos/tienda?endpoint=http://127.0.0.1:9000", "STORAGE_REDIRECT": "true"}, check: func(t *testing.T, c Config) {
			if c.StorageS3 != "s3://fotos/tienda?endpoint=http://127.0.0.1:9000" || !c.StorageRedirect || c.StorageRedirectTTL != 5*time.Minute {
				t.Errorf("got %q redirect %v ttl %s, want the url, true, 5m", c.StorageS3, c.StorageRedirect, c.StorageRedirectTTL)
			}
		}},
		{name: "storage url file", env: map[string]string{"STORAGE_URL": "file:///srv/imagenes", "STORAGE_DIR": "/otro"}, check: func(t *testing.T, c Config) {
			if c.StorageDir != "/srv/imagenes" || c.StorageS3 != "" {
				t.Errorf("got dir %q s3 %q, want /srv/imagenes and no s3", c.StorageDir, c.StorageS3)
			}
		}},
		{name: "storage url relative file", env: map[string]string{"STORAGE_URL": "file://data"}, wantErr: "STORAGE_URL:"},
		{name: "storage url other scheme", env: map[string]string{"STORAGE_URL": "gs://fotos"}, wantErr: "STORAGE_URL:"},
		{name: "redirect without s3", env: map[string]string{"STORAGE_REDIRECT": "true"}, wantErr: "STORAGE_REDIRECT:"},
		{name: "short redirect ttl", env: map[string]string{"STORAGE_REDIRECT_TTL": "10ms"}, wantErr: "STORAGE_REDIRECT_TTL:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _, err := Load(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one starting with %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("got a multi-line error %q, want one line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			tt.check(t, c)
		})
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://app:hunter2@db:5432/x?sslmode=disable", "postgres://app:xxxxx@db:5432/x?sslmode=disable"},
		{"postgres://app@db/x", "postgres://app@db/x"},
		{"host=db user=app password=hunter2 dbname=x", "host=db user=app password=xxxxx dbname=x"},
		{"https://u:hunter2@idp.example/jwks.json", "https://u:xxxxx@idp.example/jwks.json"},
		{"postgres://app:hun%zz@db/x", "(unparsable url)"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want || strings.Contains(got, "hunter2") {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEnvNotAFlagDefault: the environment's values are applied after the
// flags, so --help (which prints defaults) never shows them.
func TestEnvNotAFlagDefault(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var b strings.Builder
	fs.SetOutput(&b)
	_, _, err := LoadFlags(fs, []string{"-h"}, func(k string) string {
		return map[string]string{"JWT_SECRET": "s3cret-0123456789abcdef", "DATABASE_URL": "postgres://a:hunter2@db/x"}[k]
	})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	if strings.Contains(b.String(), "s3cret") || strings.Contains(b.String(), "hunter2") || !strings.Contains(b.String(), "jwt-secret") {
		t.Errorf("help shows a secret or no flags:\n%s", b.String())
	}
}
