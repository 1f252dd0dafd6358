package httpserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CertReloader serves a TLS certificate from a certificate file and a key
// file and picks up new ones when either file changes, without a restart
// (certificates from cert-manager or an ACME client are renewed in place).
// A new pair that does not load (a half-written renewal, a key that does
// not match) is logged and the last good pair stays in use.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	// checkEvery is the least time between two looks at the files.
	checkEvery time.Duration

	mu        sync.Mutex
	cert      *tls.Certificate
	modTimes  [2]time.Time
	lastCheck time.Time
}

// NewCertReloader loads the pair now; an error names both files.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, log: log, checkEvery: time.Second}
	cert, mods, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cert, r.modTimes, r.lastCheck = cert, mods, time.Now()
	return r, nil
}

// load reads the pair and the files' modification times.
func (r *CertReloader) load() (*tls.Certificate, [2]time.Time, error) {
	var mods [2]time.Time
	for i, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return nil, mods, fmt.Errorf("tls: %w", err)
		}
		mods[i] = st.ModTime()
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, mods, fmt.Errorf("tls: certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, mods, fmt.Errorf("tls: certificate %s: %w", r.certFile, err)
		}
	}
	return &cert, mods, nil
}

// GetCertificate is tls.Config.GetCertificate: the current pair, reloaded
// first when a file changed (looked at most once per second).
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.lastCheck) < r.checkEvery {
		return r.cert, nil
	}
	r.lastCheck = time.Now()
	changed := false
	for i, f := range []string{r.certFile, r.keyFile} {
		if st, err := os.Stat(f); err == nil && !st.ModTime().Equal(r.modTimes[i]) {
			changed = true
		}
	}
	if !changed {
		return r.cert, nil
	}
	cert, mods, err := r.load()
	if err != nil {
		r.log.Error("TLS certificate not reloaded; serving the previous one", "error", err)
		return r.cert, nil
	}
	r.cert, r.modTimes = cert, mods
	r.log.Info("TLS certificate reloaded", "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
	return r.cert, nil
}

// Leaf is the certificate now served.
func (r *CertReloader) Leaf() *x509.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert.Leaf
}

// TLSConfig is the server TLS configuration over the reloader: TLS 1.2 or
// later.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}
