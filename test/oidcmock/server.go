package oidcmock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout bounds how long Close waits for requests in flight.
const shutdownTimeout = 5 * time.Second

// Start starts a real HTTP server on 127.0.0.1:0 serving Handler at the
// root and returns its issuer, whose URL is the server's ("http://127.0.0.1:PORT").
// Close stops the server. The options are New's.
func Start(opts ...Option) (*Issuer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oidcmock: listen: %w", err)
	}
	i, err := New("http://"+ln.Addr().String(), opts...)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	i.server = &http.Server{
		Handler:           i.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(i.log.Handler(), slog.LevelWarn),
	}
	i.serveErr = make(chan error, 1)
	go func() { i.serveErr <- i.server.Serve(ln) }()
	return i, nil
}

// Close stops the server Start started, waiting briefly for requests in
// flight. It is a no-op for an issuer made with New, and safe to call twice.
func (i *Issuer) Close() {
	if i.server == nil {
		return
	}
	i.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := i.server.Shutdown(ctx); err != nil {
			i.log.Warn("shutdown", slog.String("error", err.Error()))
			_ = i.server.Close()
		}
		if err := <-i.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			i.log.Warn("serve", slog.String("error", err.Error()))
		}
	})
}
