package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/signet-dev/signet/internal/problem"
)

// classify turns a Vault failure into a 503 that names its cause (Vault
// unreachable, sealed, too slow, permission denied, key missing) in words
// a client may see; the address, paths and Vault's own text go to the
// logged cause only. A failing key store is never the client's fault.
func classify(ctx context.Context, op string, err error, cfg Config) error {
	cause := fmt.Errorf("vault %s: %s: %w", cfg.Address, op, err)
	var re *api.ResponseError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return transient(problem.Unavailable("vault did not answer within %s: try again shortly", cfg.Timeout).WithCause(cause))
	case errors.As(err, &re):
		msg := oneLine(strings.Join(re.Errors, "; "))
		cause = fmt.Errorf("vault %s: %s: %d: %s", cfg.Address, op, re.StatusCode, msg)
		switch {
		case re.StatusCode == http.StatusServiceUnavailable && strings.Contains(strings.ToLower(msg), "sealed"):
			return transient(problem.Unavailable("vault is sealed: try again once it is unsealed").WithCause(cause))
		case re.StatusCode == http.StatusForbidden && strings.HasPrefix(op, "log in"):
			return problem.Unavailable("vault refused signet's login (%s)", strings.TrimPrefix(op, "log in with ")).WithCause(cause)
		case re.StatusCode == http.StatusForbidden:
			return problem.Unavailable("vault denied signet permission (token expired or policy too narrow)").WithCause(cause)
		case strings.Contains(msg, "not found"):
			return problem.Unavailable("vault does not have the signing key").WithCause(cause)
		case re.StatusCode == http.StatusServiceUnavailable || re.StatusCode == http.StatusBadGateway:
			// A load balancer in front of an HA cluster with no active
			// node (an election under way), or a standby that cannot
			// reach the active one.
			return transient(problem.Unavailable("vault has no active node right now (failover or maintenance): try again shortly").
				WithCause(cause).WithRetryAfter(time.Second))
		}
		return problem.Unavailable("vault answered %d", re.StatusCode).WithCause(cause)
	case isTLSError(err):
		return problem.Unavailable("TLS to vault failed: check vault.ca-cert and, if vault asks for one, client-cert and client-key").WithCause(cause)
	case errors.As(err, &ne):
		u := problem.Unavailable("vault is unreachable: try again shortly").WithCause(cause)
		// Only a connection that could not be made (refused, no route, a
		// timeout) passes on its own for sure; one reset after it was made
		// may be Vault refusing signet's TLS client (TLS 1.3 reports that
		// late), which needs an operator.
		var op *net.OpError
		if ne.Timeout() || (errors.As(err, &op) && op.Op == "dial") {
			return transient(u)
		}
		return u
	}
	return problem.Unavailable("vault failed").WithCause(cause)
}

// transientError marks a Vault failure that passes on its own (Vault
// sealed, unreachable, electing a leader, too slow), as opposed to one that
// needs an operator (a refused login, a TLS or permission problem).
type transientError struct{ err error }

func transient(err error) error { return &transientError{err} }

// Error is the wrapped error's message.
func (e *transientError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error (a problem.Error).
func (e *transientError) Unwrap() error { return e.err }

// IsTransient reports whether err is a Vault failure that passes on its
// own: Vault sealed, unreachable, without an active node, or too slow.
func IsTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// isPermissionDenied reports a 403 from Vault.
func isPermissionDenied(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}

// oneLine folds Vault's multi-line error lists ("1 error occurred:\n\t* x")
// into one line.
func oneLine(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if i := strings.Index(msg, "occurred: * "); i >= 0 && strings.Contains(msg[:i], "error") {
		msg = msg[i+len("occurred: * "):]
	}
	return strings.ReplaceAll(msg, " * ", "; ")
}

// isTLSError reports a failed TLS handshake: an untrusted server
// certificate, or a client certificate Vault refused or wanted.
func isTLSError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var alert tls.AlertError
	if errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &alert) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "remote error: tls:") || strings.Contains(msg, "tls: ")
}
