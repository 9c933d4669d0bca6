// Package config reads the configuration of imagenes from environment
// variables and command-line flags, and validates it before anything starts.
//
// Every setting is an environment variable and also a flag of the same name
// in lower case with dashes (DATABASE_URL is --database-url); a flag wins over
// the variable. A bad value is an error naming the variable, so that start-up
// can stop with one line that says what to fix.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Config is the validated configuration.
type Config struct {
	DatabaseURL string
	HTTPAddr    string
	StorageDir  string
	// StorageS3 is the s3://BUCKET[/PREFIX]?… url of STORAGE_URL, or ""
	// for the local folder StorageDir (SPEC §9). Its parameters are read by
	// the object store, which says what is wrong with them.
	StorageS3 string
	// StorageRedirect answers image reads with a 302 to a presigned url
	// valid for StorageRedirectTTL (S3 only).
	StorageRedirect    bool
	StorageRedirectTTL time.Duration
	// S3 credentials, from the standard AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (never flags: a flag's
	// value shows in the process list).
	S3AccessKey, S3SecretKey, S3SessionToken string

	JWTSecret   string
	JWKSURL     string
	JWTIssuer   string
	JWTAudience string
	// JWTAdminRoles are the "rol" values of Balsamoa's tokens that are admin.
	JWTAdminRoles []string
	// JWTRequireExp refuses tokens without "exp" (the default).
	JWTRequireExp bool
	// JWKSRefresh is how often the JWKS is fetched again, so a key removed
	// from it is refused within that time.
	JWKSRefresh time.Duration
	// TrustedOrigins may send cookie writes from another site
	// (scheme://host[:port] each; net/http.CrossOriginProtection's rule).
	TrustedOrigins []string

	TrashRetention time.Duration

	JanitorEnabled       bool
	JanitorSchedule      string
	JanitorOrphanGrace   time.Duration
	JanitorUnattachedTTL time.Duration
	JanitorMaxOrphans    int
	JanitorBatchSize     int
	JanitorMetricsAddr   string

	LogLevel  string
	LogFormat string

	// DBMaxConns caps the pgx pool; 0 lets pgx choose (max(4, cores)).
	DBMaxConns int
	// RequestTimeout bounds the database work of one request.
	RequestTimeout time.Duration
	// PprofAddr, when set, serves net/http/pprof there (for profiling only).
	PprofAddr string
}

// setting describes one variable: its name, default and how to parse it.
type setting struct {
	env   string
	def   string
	usage string
	set   func(c *Config, v string) error
}

var settings = []setting{
	{"DATABASE_URL", "", "PostgreSQL connection URL", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if _, err := url.Parse(v); err != nil || !(strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") || strings.Contains(v, "=")) {
			return errors.New("want a postgres:// URL or a key=value connection string")
		}
		c.DatabaseURL = v
		return nil
	}},
	{"HTTP_ADDR", ":8080", "address the HTTP server listens on", func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want host:port, e.g. :8080")
		}
		c.HTTPAddr = v
		return nil
	}},
	{"STORAGE_DIR", "./data", "folder holding live images, trash and staging", func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		c.StorageDir = v
		return nil
	}},
	{"STORAGE_URL", "", "s3://BUCKET[/PREFIX]?endpoint=&region=&path_style= or file:///path; unset = STORAGE_DIR", func(c *Config, v string) error {
		switch {
		case v == "":
		case strings.HasPrefix(v, "s3://"):
			c.StorageS3 = v
		case strings.HasPrefix(v, "file://"):
			u, err := url.Parse(v)
			if err != nil || (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" {
				return errors.New("want file:///absolute/path")
			}
			c.StorageDir = u.Path
		default:
			return errors.New("want s3://BUCKET[/PREFIX]?endpoint=…&region=…&path_style=… or file:///absolute/path")
		}
		return nil
	}},
	{"STORAGE_REDIRECT", "false", "answer image reads with a 302 to a presigned url (s3 only)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		if b && c.StorageS3 == "" {
			return errors.New("needs an s3:// STORAGE_URL")
		}
		c.StorageRedirect = b
		return nil
	}},
	{"STORAGE_REDIRECT_TTL", "5m", "validity of a presigned url", durationAtLeast(time.Second, func(c *Config) *time.Duration { return &c.StorageRedirectTTL })},
	{"JWT_SECRET", "", "HS256 secret; enables HS256 tokens", func(c *Config, v string) error {
		if v != "" && len(v) < 16 {
			return errors.New("must be at least 16 characters")
		}
		c.JWTSecret = v
		return nil
	}},
	{"JWKS_URL", "", "JWKS URL; enables RS256 tokens (Auth0)", func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return errors.New("want an http(s) URL")
			}
		}
		c.JWKSURL = v
		return nil
	}},
	{"JWT_ISSUER", "", "required iss claim, when set", func(c *Config, v string) error { c.JWTIssuer = v; return nil }},
	{"JWT_AUDIENCE", "", "required aud claim, when set", func(c *Config, v string) error { c.JWTAudience = v; return nil }},
	{"JWT_ADMIN_ROLES", "1", "comma-separated rol values of Balsamoa tokens that are admin (1 = Balsamoa's Administrador)", func(c *Config, v string) error {
		c.JWTAdminRoles = nil
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				c.JWTAdminRoles = append(c.JWTAdminRoles, r)
			}
		}
		if len(c.JWTAdminRoles) == 0 {
			return errors.New("want at least one role, e.g. 1")
		}
		return nil
	}},
	{"JWT_REQUIRE_EXP", "true", "refuse tokens without exp (false accepts them, valid forever)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.JWTRequireExp = b
		return nil
	}},
	{"JWKS_REFRESH", "1m", "how often the JWKS is fetched again (a key removed from it is refused within this time)", durationAtLeast(time.Second, func(c *Config) *time.Duration { return &c.JWKSRefresh })},
	{"TRUSTED_ORIGINS", "", "comma-separated origins (scheme://host[:port]) whose cross-site cookie writes are accepted, e.g. Balsamoa's panel on another host", func(c *Config, v string) error {
		c.TrustedOrigins = nil
		cop := http.NewCrossOriginProtection()
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o == "" {
				continue
			}
			if err := cop.AddTrustedOrigin(o); err != nil {
				return fmt.Errorf("want scheme://host[:port] origins: %w", err)
			}
			c.TrustedOrigins = append(c.TrustedOrigins, o)
		}
		return nil
	}},
	{"TRASH_RETENTION", "168h", "how long trashed images stay restorable", durationAtLeast(time.Second, func(c *Config) *time.Duration { return &c.TrashRetention })},
	{"JANITOR_ENABLED", "false", "run the janitor inside serve", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.JanitorEnabled = b
		return nil
	}},
	{"JANITOR_SCHEDULE", "@every 10m", "cron schedule of the janitor", func(c *Config, v string) error {
		if _, err := cron.ParseStandard(v); err != nil {
			return fmt.Errorf("not a cron schedule: %w", err)
		}
		c.JanitorSchedule = v
		return nil
	}},
	{"JANITOR_ORPHAN_GRACE", "1h", "age before a live file without a row is an orphan (and, on a bucket, before a delete's move cut between its copy and its delete is finished)", durationAtLeast(0, func(c *Config) *time.Duration { return &c.JanitorOrphanGrace })},
	{"JANITOR_UNATTACHED_TTL", "24h", "age before an image with no product is trashed (0 = off)", durationAtLeast(0, func(c *Config) *time.Duration { return &c.JanitorUnattachedTTL })},
	{"JANITOR_MAX_ORPHANS", "1000", "most orphans moved in one pass without --force", intAtLeast(0, func(c *Config) *int { return &c.JanitorMaxOrphans })},
	{"JANITOR_BATCH_SIZE", "1000", "files and rows handled per batch (bounds memory)", intAtLeast(1, func(c *Config) *int { return &c.JanitorBatchSize })},
	{"JANITOR_METRICS_ADDR", "", "standalone janitor: serve /metrics on this address", func(c *Config, v string) error {
		if v != "" {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return errors.New("want host:port")
			}
		}
		c.JanitorMetricsAddr = v
		return nil
	}},
	{"LOG_LEVEL", "info", "debug, info, warn or error", oneOf([]string{"debug", "info", "warn", "error"}, func(c *Config) *string { return &c.LogLevel })},
	{"LOG_FORMAT", "json", "json or console", oneOf([]string{"json", "console"}, func(c *Config) *string { return &c.LogFormat })},
	{"DB_MAX_CONNS", "0", "most connections in the pool (0 = 4 per core)", intAtLeast(0, func(c *Config) *int { return &c.DBMaxConns })},
	{"REQUEST_TIMEOUT", "10s", "time limit of one request's database work", durationAtLeast(time.Millisecond, func(c *Config) *time.Duration { return &c.RequestTimeout })},
	{"PPROF_ADDR", "", "serve net/http/pprof on this address (profiling only)", func(c *Config, v string) error {
		if v != "" {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return errors.New("want host:port")
			}
		}
		c.PprofAddr = v
		return nil
	}},
}

// Load reads every setting from getenv, lets flags in args override them,
// and validates the result. It returns the arguments left after the flags.
// The error names the variable, e.g. `JANITOR_SCHEDULE: not a cron schedule`.
func Load(args []string, getenv func(string) string) (Config, []string, error) {
	fs := flag.NewFlagSet("imagenes", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return LoadFlags(fs, args, getenv)
}

// LoadFlags is Load on a flag set that may already hold a subcommand's own
// flags (janitor --once, token --sub), so that both parse in one pass.
func LoadFlags(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, []string, error) {
	// A flag's default is the setting's own default, never the environment's
	// value: --help prints defaults, and the environment holds secrets
	// (JWT_SECRET, the password in DATABASE_URL). The environment is applied
	// after parsing, to the flags not given.
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		values[s.env] = fs.String(FlagName(s.env), s.def, s.usage+" ($"+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, fmt.Errorf("flags: %w", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var c Config
	for _, s := range settings {
		v := *values[s.env]
		if !given[FlagName(s.env)] {
			if e := getenv(s.env); e != "" {
				v = e
			}
		}
		if err := s.set(&c, v); err != nil {
			return Config{}, nil, fmt.Errorf("%s: %w", s.env, err)
		}
	}
	if c.StorageS3 != "" {
		c.S3AccessKey, c.S3SecretKey, c.S3SessionToken = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
		if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
			return Config{}, nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both, or neither for a public bucket")
		}
	}
	return c, fs.Args(), nil
}

// FlagName is the flag spelling of an environment variable.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

// Usage writes every variable with its default and meaning to w.
func Usage(w io.Writer) {
	for _, s := range settings {
		fmt.Fprintf(w, "  --%-24s $%-24s %s (default %q)\n", FlagName(s.env), s.env, s.usage, s.def)
	}
}

func durationAtLeast(min time.Duration, field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration like 90s, 10m or 168h, got %q", v)
		}
		if d < min {
			return fmt.Errorf("must be at least %s", min)
		}
		*field(c) = d
		return nil
	}
}

func intAtLeast(min int, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("want a whole number of at least %d, got %q", min, v)
		}
		*field(c) = n
		return nil
	}
}

func oneOf(allowed []string, field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*field(c) = v
				return nil
			}
		}
		return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

// RedactURL hides the password of a URL (postgres://u:xxxxx@host/db) or of a
// key=value connection string (password=xxxxx), for every log line and
// error that names one. Anything it cannot parse is hidden whole.
func RedactURL(s string) string {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "(unparsable url)"
		}
		return u.Redacted()
	}
	fields := strings.Fields(s)
	for i, f := range fields {
		if k, _, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			fields[i] = k + "=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}
