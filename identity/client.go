package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/signet-dev/signet/internal/boundedbody"
)

// maxIssuerResponse bounds any response of an issuer (discovery, JWKS).
const maxIssuerResponse = 1 << 20

// hardenClient returns a copy of base (or a new client) that refuses
// redirects to another host or from https to http, and bounds response
// bodies.
func hardenClient(base *http.Client) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if req.URL.Host != via[0].URL.Host {
			return fmt.Errorf("redirect to another host %q refused", req.URL.Host)
		}
		if req.URL.Scheme != "https" && slices.ContainsFunc(via, func(r *http.Request) bool { return r.URL.Scheme == "https" }) {
			return fmt.Errorf("redirect from https to %s refused", req.URL.Redacted())
		}
		return nil
	}
	if _, ok := c.Transport.(boundedTransport); !ok {
		c.Transport = boundedTransport{base: c.Transport}
	}
	return c
}

// clientFor returns the HTTP client of an issuer: the shared one, or for an
// issuer with a ca-cert, a copy whose TLS trusts the system roots and that
// CA (as Fulcio does). NewAuthenticator builds each issuer's client once.
func clientFor(base *http.Client, conf Issuer) (*http.Client, error) {
	if conf.CACert == "" {
		return base, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(conf.CACert)) {
		return nil, errors.New("ca-cert holds no PEM certificate")
	}
	var inner http.RoundTripper = http.DefaultTransport
	if bt, ok := base.Transport.(boundedTransport); ok && bt.base != nil {
		inner = bt.base
	}
	tr, ok := inner.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("ca-cert needs an *http.Transport, the client has a %T", inner)
	}
	tr = tr.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.RootCAs = pool
	c := *base
	c.Transport = boundedTransport{base: tr}
	return &c, nil
}

// boundedTransport fails a response body that grows over maxIssuerResponse.
type boundedTransport struct{ base http.RoundTripper }

// RoundTrip sends the request with the base transport and bounds the body.
func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = boundedbody.New(resp.Body, maxIssuerResponse, "the issuer's response")
	return resp, nil
}
