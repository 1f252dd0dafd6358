package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/signet-dev/signet/cmd/signet/app"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/httpserver"
)

func serveCommand() *cobra.Command {
	var configPath, addr, identityPath string
	var dev bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the signet server",
		Long: `Run the signet server.

--dev runs on embedded defaults: an in-memory CA and TSA and a built-in,
INSECURE test OIDC issuer that mints GitHub-Actions-shaped tokens.
--config runs from a config file; --identity-config loads a Fulcio
identity config file as is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Default()
			if configPath != "" {
				var err error
				if cfg, err = config.Load(configPath); err != nil {
					return err
				}
			} else if !dev {
				return errors.New("serve needs --config FILE, or --dev for embedded development defaults")
			}
			if cmd.Flags().Changed("addr") {
				cfg.Listen = addr
			}
			if identityPath != "" {
				if err := cfg.LoadIdentity(identityPath); err != nil {
					return err
				}
			}
			cfg.Dev = dev
			tuneGC()
			return serve(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "config file (YAML)")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address (overrides the config file)")
	cmd.Flags().StringVar(&identityPath, "identity-config", "", "Fulcio identity config file (YAML or JSON)")
	cmd.Flags().BoolVar(&dev, "dev", false, "development mode: in-memory keys and a built-in insecure test issuer")
	return cmd
}

func serve(parent context.Context, cfg *config.Config) error {
	log := newLogger(slog.LevelInfo)
	klog.SetSlogLogger(log.With("component", "tessera")) // the issuance log library logs through klog
	cfg.Vault.FromEnv(os.LookupEnv)
	if err := cfg.Validate(); err != nil {
		return err
	}
	if !cfg.Dev && (cfg.CA.Type == config.BackendMemory || cfg.TSA.Type == config.BackendMemory) {
		log.Warn("a memory key backend is in use: keys and trust vanish when signet stops; use it for development only")
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	var certs *httpserver.CertReloader
	if cfg.TLSCertFile != "" {
		var err error
		if certs, err = httpserver.NewCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	cfg.Listen = ln.Addr().String()
	listeners := []net.Listener{ln}
	var adminLn net.Listener
	if cfg.AdminListen != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			_ = ln.Close()
			return fmt.Errorf("admin listen: %w", err)
		}
		listeners = append(listeners, adminLn)
	}
	a, err := app.New(ctx, cfg, app.Env{Log: log})
	if err != nil {
		for _, l := range listeners {
			_ = l.Close()
		}
		return err
	}
	defer a.Close()
	servers := []*http.Server{newHTTPServer(a.Handler)}
	if certs != nil {
		servers[0].TLSConfig = certs.TLSConfig()
	}
	if adminLn != nil {
		servers = append(servers, newHTTPServer(a.AdminHandler))
	}
	log.Info("signet serving", "addr", cfg.Listen, "admin_addr", cfg.AdminListen, "public_url", a.PublicURL,
		"ca_backend", cfg.CA.Type, "tsa_backend", cfg.TSA.Type, "dev", cfg.Dev)
	if a.DevIssuer != nil {
		log.Warn("DEV MODE: built-in test issuer is INSECURE, anyone can mint tokens; never use in production",
			"issuer", a.DevIssuer.URL(),
			"ACTIONS_ID_TOKEN_REQUEST_URL", a.DevIssuer.URL()+"/token?api-version=2.0",
			"ACTIONS_ID_TOKEN_REQUEST_TOKEN", app.DevRequestToken)
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if srv.TLSConfig != nil {
				errc <- srv.ServeTLS(listeners[i], "", "") // the certificate comes from TLSConfig
				return
			}
			errc <- srv.Serve(listeners[i])
		}()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case sig := <-signals:
		return shutdown(a, servers, cfg, sig, signals, log)
	case <-ctx.Done():
		return shutdown(a, servers, cfg, nil, signals, log)
	}
}

// shutdown stops serving gracefully. On SIGTERM (what an orchestrator
// sends) the server first reports not ready for shutdown-delay while it
// still serves, so load balancers stop routing to it; a second signal
// cuts the delay short. Then it closes its listeners and waits up to
// shutdown-timeout for the requests in flight. SIGINT (Ctrl-C) skips the
// delay.
func shutdown(a *app.App, servers []*http.Server, cfg *config.Config, sig os.Signal, signals <-chan os.Signal, log *slog.Logger) error {
	delay, timeout := cfg.EffectiveShutdown()
	a.Drain()
	if sig == syscall.SIGTERM && delay > 0 {
		log.Info("signet draining: not ready, still serving until load balancers notice", "delay", delay)
		select {
		case <-time.After(delay):
		case <-signals:
		}
	}
	log.Info("signet shutting down", "signal", fmt.Sprint(sig), "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("requests still in flight after shutdown-timeout %s: %w", timeout, err))
		}
	}
	return errors.Join(errs...)
}

// newHTTPServer bounds every phase of a request, against slow clients.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
