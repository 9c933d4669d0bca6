package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/config"
	"github.com/imagenes/imagenes/internal/handlers"
	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// shutdownGrace is how long in-flight requests get after SIGTERM.
const shutdownGrace = 25 * time.Second

// serve runs the HTTP API until ctx is cancelled (SIGINT/SIGTERM), then
// shuts down: stop accepting, and, at once, finish in-flight requests and
// stop the janitor's schedule and wait for its pass; then close the pool
// and flush the log.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	d, cleanup, err := start(ctx, flag.NewFlagSet("serve", flag.ContinueOnError), args, getenv, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg, log := d.cfg, d.log
	if err := d.files.WriteMarker(ctx); err != nil {
		return fmt.Errorf("storage marker: %w", err)
	}
	acfg := auth.Config{Secret: cfg.JWTSecret, JWKSURL: cfg.JWKSURL, JWKSRefresh: cfg.JWKSRefresh, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, AdminRoles: cfg.JWTAdminRoles, AllowNoExp: !cfg.JWTRequireExp, Log: log}
	// Beside Balsamoa, its sessions are checked against its usuarios table;
	// whether there is one is asked once, here.
	if d.balsamoa.Sesiones {
		acfg.Sessions = d.store
		log.Info("balsamoa sessions: Balsamoa tokens must name a session open in usuarios")
	}
	a, err := auth.New(acfg)
	if err != nil {
		return fmt.Errorf("JWKS_URL: %w", err)
	}
	defer a.Close()
	if cfg.JWTSecret == "" && cfg.JWKSURL == "" {
		log.Warn("neither JWT_SECRET nor JWKS_URL is set: every authenticated route answers 401")
	}

	// The janitor is built even when its schedule is off: the admin page
	// runs dry passes with it.
	j := d.janitor(log)
	var sched *janitor.Scheduler
	if cfg.JanitorEnabled {
		if sched, err = j.Schedule(cfg.JanitorSchedule, janitorConfig(cfg)); err != nil {
			return err
		}
		sched.Start()
		log.Info("janitor scheduled", zap.String("schedule", cfg.JanitorSchedule))
	}

	hd := d.handlerDeps(cfg, a)
	hd.Janitor = j
	if hd.CrossOrigin, err = handlers.CrossOrigin(cfg.TrustedOrigins); err != nil {
		return fmt.Errorf("TRUSTED_ORIGINS: %w", err)
	}
	app := handlers.NewApp(hd)
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, log)
	}

	ln, err := listen(ctx, app.Config().Network, cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	log.Info("serving", zap.String("addr", ln.Addr().String()), zap.String("storage", d.files.Root()), zap.String("version", version))

	select {
	case err := <-errc:
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// The schedule stops while the requests finish, not after: each gets
	// the whole grace, and a request slow to end no longer leaves the
	// running pass none.
	// A pass still running once the grace is spent is cancelled; the
	// storage and the pool are closed (by cleanup, after this returns) only
	// once it has returned.
	passEnded := make(chan bool, 1)
	go func() {
		ended := true
		if sched != nil {
			ended = sched.Stop(sctx)
		}
		passEnded <- ended
	}()
	if err := app.ShutdownWithContext(sctx); err != nil {
		log.Error("http shutdown", zap.Error(err), zap.Int32("open_connections", app.Server().GetOpenConnectionsCount()))
	}
	d.passRunning = !<-passEnded
	return nil
}

// listenerKey carries, in serve's context, a listener its caller already
// holds. Tests listen on port 0 and hand serve the listener: choosing a free
// port, closing it and letting serve bind it again raced with every other
// test doing the same.
type listenerKey struct{}

// listen returns the context's listener, or listens on addr.
func listen(ctx context.Context, network, addr string) (net.Listener, error) {
	if ln, ok := ctx.Value(listenerKey{}).(net.Listener); ok {
		return ln, nil
	}
	return net.Listen(network, addr)
}

// start is what every long-running subcommand does first: parse its flags
// (registered on fs) and the settings, require a database, open the logger
// and build the dependencies. cleanup closes them and flushes the log.
func start(ctx context.Context, fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) (*deps, func(), error) {
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return nil, nil, err
	}
	if err := requireDatabase(cfg); err != nil {
		return nil, nil, err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return nil, nil, err
	}
	d, cleanup, err := build(ctx, cfg, log)
	if err != nil {
		log.Sync() //nolint:errcheck // nothing left to tell
		return nil, nil, err
	}
	return d, func() {
		cleanup()
		log.Sync() //nolint:errcheck // nothing left to tell
	}, nil
}

// deps are the long-lived dependencies every subcommand that touches data
// builds the same way.
type deps struct {
	cfg      config.Config
	pool     *pgxpool.Pool
	store    *repo.Store
	files    storage.Backend
	protocol *trash.Service
	catalog  *catalog.Service
	// domain are the domain's metrics (deletes, uploads, restores, images
	// trashed), shared by the catalogue and the janitor.
	domain   *catalog.Metrics
	registry *prometheus.Registry
	log      *zap.Logger
	// balsamoa: which of Balsamoa's own tables the database has.
	balsamoa repo.Balsamoa
	// passRunning, set on shutdown when a cancelled janitor pass has not
	// returned, leaves the storage and the pool open: closing them under
	// the pass would fail its calls halfway (the process exits anyway).
	passRunning bool
}

// build opens the pool (refusing a schema with pending migrations) and the
// storage root (refusing folders on different filesystems). cleanup closes
// them in reverse order.
func build(ctx context.Context, cfg config.Config, log *zap.Logger) (*deps, func(), error) {
	pool, err := repo.OpenPool(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return nil, nil, err
	}
	st, err := repo.Status(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if len(st.Pending) > 0 {
		pool.Close()
		return nil, nil, fmt.Errorf("database schema is at version %d of %d: run `imagenes migrate up`", st.Current, st.Latest)
	}
	files, err := openStorage(ctx, cfg)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if b, ok := files.(*objstore.Store); ok && len(b.SweptSpools()) > 0 {
		log.Info("removed the upload spools of processes that died", zap.Strings("spools", b.SweptSpools()))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store := repo.New(pool)
	bals, err := store.DetectBalsamoa(ctx)
	if err != nil {
		files.Close()
		pool.Close()
		return nil, nil, err
	}
	reg.MustRegister(newPoolCollector(pool), newTrashCollector(store, log))
	proto := trash.New(store, files, log)
	domain := catalog.NewMetrics(reg)
	d := &deps{
		cfg: cfg, pool: pool, store: store, files: files,
		protocol: proto, catalog: catalog.New(proto, files, domain), domain: domain,
		registry: reg, log: log, balsamoa: bals,
	}
	// A folder's background fsyncs of the trash (a bucket has none).
	if folder, ok := files.(*storage.Storage); ok {
		reg.MustRegister(newStorageCollector(folder))
		folder.OnSyncError(func(err error) {
			log.Error("group fsync failed; the janitor reconciles a rename it may lose", zap.Error(err))
		})
	}
	cleanup := func() {
		if d.passRunning {
			log.Warn("storage and pool left open: a janitor pass is still running")
			return
		}
		if err := files.Close(); err != nil {
			log.Error("storage close", zap.Error(err))
		}
		pool.Close()
	}
	return d, cleanup, nil
}

// janitor hands the janitor its dependencies: reads go to the store, every
// change of rows and files through the protocol, and passes are exclusive
// through the database's pass lock.
func (d *deps) janitor(log *zap.Logger) *janitor.Janitor {
	return janitor.New(janitor.Deps{
		Store: d.store, Files: d.files, Protocol: d.protocol, PassLock: repo.NewPassLocks(d.pool),
		Now: time.Now, Log: log, Metrics: janitor.NewMetrics(d.registry), Trashed: d.domain,
	})
}

func (d *deps) handlerDeps(cfg config.Config, a *auth.Auth) handlers.Deps {
	return handlers.Deps{
		Store: d.store, Catalog: d.catalog, Files: d.files, Auth: a, Log: d.log,
		Redirect: d.redirect(), RedirectTTL: cfg.StorageRedirectTTL,
		Registry: d.registry, RequestTimeout: cfg.RequestTimeout, Balsamoa: d.balsamoa,
		JanitorConfig: janitorConfig(cfg),
		Ready: func(ctx context.Context) error {
			return errors.Join(d.store.Ping(ctx), d.files.Usable(ctx))
		},
	}
}

// servePprof exposes net/http/pprof on its own address, only when asked.
func servePprof(addr string, log *zap.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("pprof listening", zap.String("addr", addr))
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof", zap.Error(err))
	}
}
