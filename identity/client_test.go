package identity

import (
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

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
