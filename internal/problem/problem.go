// Package problem carries the HTTP status of an error that reaches a client.
//
// Domain packages classify an error once, where they know what went wrong
// (a bad token is Unauthorized, a sealed Vault is Unavailable), and the HTTP
// layers write every error through Write, the one place where errors become
// responses. An error that was never classified is a server fault: it is
// logged and answered with a generic 500 that leaks nothing.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Error is an error with the HTTP status and machine-readable code a client sees.
type Error struct {
	// Status is the HTTP status code of the response.
	Status int
	// Code is a short, stable, machine-readable name such as "invalid_token".
	Code string
	// Err is what went wrong; its message is shown to the client.
	Err error
	// Cause is the internal detail (an upstream's error text, an address),
	// logged by Write but never shown to the client.
	Cause error
	// RetryAfter, when positive, is sent by Write as the Retry-After
	// header, in whole seconds rounded up (at least 1).
	RetryAfter time.Duration
}

// WithCause records internal detail that is logged but not shown.
func (e *Error) WithCause(cause error) *Error {
	e.Cause = cause
	return e
}

// WithRetryAfter asks Write to send a Retry-After header of d.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	e.RetryAfter = d
	return e
}

// Error returns the cause's message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func newf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Err: fmt.Errorf(format, args...)}
}

// BadRequest is a malformed or unacceptable request (400).
func BadRequest(format string, args ...any) *Error {
	return newf(http.StatusBadRequest, "bad_request", format, args...)
}

// Unauthorized is a missing, malformed or invalid identity token (401).
func Unauthorized(format string, args ...any) *Error {
	return newf(http.StatusUnauthorized, "invalid_token", format, args...)
}

// Forbidden is a valid identity that policy does not allow to sign (403).
func Forbidden(format string, args ...any) *Error {
	return newf(http.StatusForbidden, "denied", format, args...)
}

// TooLarge is a request body or field over its size limit (413).
func TooLarge(format string, args ...any) *Error {
	return newf(http.StatusRequestEntityTooLarge, "too_large", format, args...)
}

// TooManyRequests is a client over its rate limit (429).
func TooManyRequests(format string, args ...any) *Error {
	return newf(http.StatusTooManyRequests, "rate_limited", format, args...)
}

// UnsupportedMediaType is a request body of a type the endpoint does not take (415).
func UnsupportedMediaType(format string, args ...any) *Error {
	return newf(http.StatusUnsupportedMediaType, "unsupported_media_type", format, args...)
}

// Unavailable is a backend (key store, OIDC issuer) that cannot serve now (503).
func Unavailable(format string, args ...any) *Error {
	return newf(http.StatusServiceUnavailable, "unavailable", format, args...)
}

// RetryAfterSeconds is d as a Retry-After value: whole seconds, rounded
// up, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// Body is the JSON document of an error response.
type Body struct {
	// Code is the machine-readable error name.
	Code string `json:"code"`
	// Message says what was wrong and what to do.
	Message string `json:"message"`
}

// StatusOf returns the HTTP status of err: the status of the first *Error
// in its chain, or 500 when there is none.
func StatusOf(err error) int {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Status
	}
	return http.StatusInternalServerError
}

// Write answers the request with err as a JSON problem document. Client
// errors carry their message; unclassified errors are logged and answered
// with a generic message.
func Write(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	body := Body{Code: "internal", Message: "internal error"}
	status := http.StatusInternalServerError
	var pe *Error
	if errors.As(err, &pe) {
		status, body.Code, body.Message = pe.Status, pe.Code, err.Error()
	}
	if log != nil {
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{slog.String("path", r.URL.Path), slog.Int("status", status),
			slog.String("code", body.Code), slog.String("error", err.Error())}
		if pe != nil && pe.Cause != nil {
			attrs = append(attrs, slog.String("cause", pe.Cause.Error()))
		}
		log.LogAttrs(r.Context(), level, "request failed", attrs...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if pe != nil && pe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds(pe.RetryAfter)))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="signet"`) // RFC 9110: a 401 names its scheme
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Truncate shortens client-supplied text before a message quotes it, so
// that an error cannot echo a large body back.
func Truncate(s string) string { return Clip(s, 64) }

// Clip shortens s to at most limit bytes (cut on a rune boundary) plus
// "...", for messages that quote a library's text, which may itself quote
// client input.
func Clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit] + "..."
}
