package vault

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/signet-dev/signet/keyless/problem"
)

// classify turns a Vault failure into a 503 that names its cause: Vault
// unreachable, sealed, too slow, permission denied or key missing. A
// failing key store is never the client's fault.
func classify(ctx context.Context, op string, err error, cfg Config) error {
	var re *api.ResponseError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return problem.Unavailable("vault did not answer within %s (%s): try again shortly", cfg.Timeout, op)
	case errors.As(err, &re):
		msg := oneLine(strings.Join(re.Errors, "; "))
		switch {
		case re.StatusCode == http.StatusServiceUnavailable && strings.Contains(strings.ToLower(msg), "sealed"):
			return problem.Unavailable("vault is sealed (%s): unseal it and retry", op)
		case re.StatusCode == http.StatusForbidden:
			return problem.Unavailable("vault denied permission to %s: the token expired or its policy lacks the path (%s)", op, msg)
		case strings.Contains(msg, "not found"):
			return problem.Unavailable("vault cannot %s: %s", op, msg)
		}
		return problem.Unavailable("vault answered %d to %s: %s", re.StatusCode, op, msg)
	case errors.As(err, &ne):
		return problem.Unavailable("vault at %s is unreachable (%s): %v", cfg.Address, op, err)
	}
	return problem.Unavailable("vault: %s: %v", op, err)
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
