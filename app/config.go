package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/imagenes/imagenes/internal/config"
)

// loadConfig parses the settings shared by every subcommand plus the
// subcommand's own flags, registered on fs beforehand. A bad value is a
// usage error naming the variable.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (config.Config, error) {
	fs.SetOutput(io.Discard)
	cfg, rest, err := config.LoadFlags(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		var b helpWriter
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return cfg, fmt.Errorf("%w: flags of %s:\n%s", errUsage, fs.Name(), b)
	}
	if err != nil {
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if len(rest) > 0 && fs.Name() != "migrate" {
		return cfg, fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	return cfg, nil
}

type helpWriter []byte

func (h *helpWriter) Write(p []byte) (int, error) { *h = append(*h, p...); return len(p), nil }
func (h helpWriter) String() string               { return string(h) }

func requireDatabase(cfg config.Config) error {
	if cfg.DatabaseURL == "" {
		return fmt.Errorf("%w: DATABASE_URL: not set (`make run` starts a local PostgreSQL and sets it)", errUsage)
	}
	return nil
}

// newLogger builds the process logger: JSON for machines, console for a
// person at a terminal.
func newLogger(cfg config.Config, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.LogFormat == "console" {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel)), nil
}
