package identity

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/oidcmock"
)

// tlsIssuer is a mock issuer at https://example.com, served over TLS,
// next to a plain-HTTP server for http://example.com that counts every
// request it gets: none may reach it. alter may rewrite the TLS answers.
type tlsIssuer struct {
	iss       *oidcmock.Issuer
	client    *http.Client // dials example.com:443 and :80 to the two servers
	plainHits atomic.Int32
	alter     func(w http.ResponseWriter, r *http.Request) bool // true: answered
}

func startTLSIssuer(t *testing.T) *tlsIssuer {
	t.Helper()
	iss, err := oidcmock.New("https://example.com")
	if err != nil {
		t.Fatal(err)
	}
	ti := &tlsIssuer{iss: iss}
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ti.alter != nil && ti.alter(w, r) {
			return
		}
		iss.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(secure.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti.plainHits.Add(1)
		iss.Handler().ServeHTTP(w, r) // a valid answer: only the refusal protects
	}))
	t.Cleanup(plain.Close)
	roots := secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	ti.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			to := plain.Listener.Addr().String()
			if strings.HasSuffix(addr, ":443") {
				to = secure.Listener.Addr().String()
			}
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, to)
		},
	}}
	return ti
}

func TestHTTPSIssuersAreNeverDowngraded(t *testing.T) {
	discovery := func(jwksURI string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/.well-known/openid-configuration" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"issuer": "https://example.com", "jwks_uri": "` + jwksURI + `", "id_token_signing_alg_values_supported": ["RS256"]}`))
			return true
		}
	}
	redirect := func(path, to string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != path {
				return false
			}
			http.Redirect(w, r, to, http.StatusFound)
			return true
		}
	}
	for _, tc := range []struct {
		name  string
		alter func(w http.ResponseWriter, r *http.Request) bool
		want  string // "" when the token verifies
		cause string
	}{
		{"https throughout", nil, "", ""},
		{"https jwks_uri", discovery("https://example.com/jwks"), "", ""},
		{"redirect within https", func(w http.ResponseWriter, r *http.Request) bool {
			return discovery("https://example.com/keys")(w, r) || redirect("/keys", "https://example.com/jwks")(w, r)
		}, "", ""},
		{"http jwks_uri", discovery("http://example.com/jwks"), `identity token issuer "https://example.com" is unavailable; try again later`, "jwks_uri that is not https"},
		{"discovery redirected to http", redirect("/.well-known/openid-configuration", "http://example.com/.well-known/openid-configuration"),
			`identity token issuer "https://example.com" is unavailable; try again later`, "redirect from https to http://example.com/.well-known/openid-configuration refused"},
		{"JWKS redirected to http", redirect("/jwks", "http://example.com/jwks"),
			`cannot fetch the keys of identity token issuer "https://example.com"; try again later`, "redirect from https to http://example.com/jwks refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := startTLSIssuer(t)
			ti.alter = tc.alter
			var logs bytes.Buffer
			a, err := NewAuthenticator(Config{OIDCIssuers: map[string]Issuer{
				"https://example.com": {ClientID: "sigstore", Type: TypeEmail},
			}}, Options{HTTPClient: ti.client, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := ti.iss.Mint(map[string]any{"sub": "1", "aud": "sigstore", "email": "dev@example.com", "email_verified": true})
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Authenticate(context.Background(), tok)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *problem.Error
			if problem.StatusOf(err) != http.StatusServiceUnavailable || err.Error() != tc.want || !errors.As(err, &pe) || pe.Cause == nil ||
				!strings.Contains(pe.Cause.Error()+logs.String(), tc.cause) {
				t.Errorf("error = %v (status %d), want 503 %q caused by %q; logs:\n%s", err, problem.StatusOf(err), tc.want, tc.cause, logs.String())
			}
			if n := ti.plainHits.Load(); n != 0 {
				t.Errorf("%d requests reached the issuer over plain http", n)
			}
		})
	}
}

// roundTripperFunc is a transport that is not an *http.Transport.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestIssuerClientsAreBuiltAtStart(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	custom := &http.Client{Transport: roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })}
	_, err := NewAuthenticator(Config{OIDCIssuers: map[string]Issuer{
		"https://example.com": {ClientID: "sigstore", Type: TypeEmail, CACert: caPEM},
	}}, Options{HTTPClient: custom})
	if err == nil || !strings.Contains(err.Error(), `oidc-issuers["https://example.com"]: ca-cert needs an *http.Transport`) {
		t.Errorf("NewAuthenticator = %v, want the ca-cert client refused at start", err)
	}
}
