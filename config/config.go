// Package config is signet's one configuration type: Load reads a file,
// Parse applies defaults, Validate checks it without side effects. Library
// packages receive the typed values; only cmd reads flags and environment.
package config

import (
	"bytes"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/pki"
)

// Backend types for the CA and the TSA keys.
const (
	BackendMemory = "memory"
	BackendFile   = "file"
	BackendVault  = "vault"
)

// Config is the whole of signet's server configuration.
type Config struct {
	// Listen is the address to serve on; default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// AdminListen, when set, is a separate address for /readyz and
	// /metrics, which then leave the public listener.
	AdminListen string `yaml:"admin-listen,omitempty"`
	// TLSCertFile and TLSKeyFile, when set (both), make signet serve HTTPS
	// on listen itself, for deployments without a TLS-terminating proxy;
	// the pair is reloaded when either file changes. The admin listener
	// stays plain HTTP.
	TLSCertFile string `yaml:"tls-cert-file,omitempty"`
	TLSKeyFile  string `yaml:"tls-key-file,omitempty"`
	// PublicURL is the URL clients reach signet at; default http://<listen>
	// (https:// with TLS).
	PublicURL string `yaml:"public-url,omitempty"`
	// Organization is the O of generated certificates; default "signet".
	Organization string `yaml:"organization"`
	// CertificateLifetime is the life of issued certificates; default 10m.
	CertificateLifetime time.Duration `yaml:"certificate-lifetime"`
	// CA is the backend of the issuing CA key.
	CA Backend `yaml:"ca"`
	// TSA is the backend of the timestamp authority key.
	TSA TSA `yaml:"tsa"`
	// Vault is how to reach Vault, for vault backends.
	Vault vault.Config `yaml:"vault"`
	// IdentityConfigPath names a Fulcio identity config file.
	IdentityConfigPath string `yaml:"identity-config,omitempty"`
	// Identity is the trusted issuers; loaded from IdentityConfigPath, or
	// GitHub Actions (github.com) when no file is named.
	Identity identity.Config `yaml:"-"`
	// OIDC tunes token verification: clock skew, timeouts, JWKS refetching.
	OIDC OIDC `yaml:"oidc,omitempty"`
	// Policy decides which authenticated identities may get a certificate.
	Policy identity.PolicyConfig `yaml:"policy,omitempty"`
	// RateLimit bounds each client address's POST requests; off by default
	// (behind a proxy every client shares its address).
	RateLimit RateLimit `yaml:"rate-limit,omitempty"`
	// Log is the issuance log every certificate is recorded in.
	Log Log `yaml:"log,omitempty"`
	// TUF is the TUF repository the trust documents are published in.
	TUF TUF `yaml:"tuf,omitempty"`
	// ShutdownDelay is how long a server that got SIGTERM reports not
	// ready while still serving, so load balancers take it out of rotation
	// before it closes its listeners; default 5s, 0 in dev mode.
	ShutdownDelay *time.Duration `yaml:"shutdown-delay,omitempty"`
	// ShutdownTimeout bounds the wait for requests in flight once the
	// listeners are closed; default 20s.
	ShutdownTimeout time.Duration `yaml:"shutdown-timeout,omitempty"`
	// Dev adds the built-in test issuer; set by `serve --dev` only.
	Dev bool `yaml:"-"`
}

// Backend says where a signing key and its chain live.
type Backend struct {
	// Type is memory (generated at start, dev only), file or vault.
	Type string `yaml:"type"`
	// KeyFile is the PEM private key of a file backend.
	KeyFile string `yaml:"key-file,omitempty"`
	// ChainFile is the PEM chain of a file backend, key's certificate first.
	ChainFile string `yaml:"chain-file,omitempty"`
	// Key is the transit key of a vault backend.
	Key string `yaml:"key,omitempty"`
	// KeyVersion is ignored: a server uses the transit key version
	// recorded with the chain in KV, and follows it across rotations.
	// Configs written by earlier releases of `signet ca init` pin one;
	// they keep working (signet logs that it is ignored).
	KeyVersion int `yaml:"key-version,omitempty"`
	// ChainPath is the KV v2 path of a vault backend's chain.
	ChainPath string `yaml:"chain-path,omitempty"`
	// KeyType is the curve of memory keys: ecdsa-p384 (the default, the
	// curve of Fulcio's production intermediate) or ecdsa-p256 (faster).
	// File keys have their own type; Vault keys get theirs from
	// `signet ca init --key-type`.
	KeyType string `yaml:"key-type,omitempty"`
}

// Memory key types.
const (
	KeyTypeP384 = "ecdsa-p384"
	KeyTypeP256 = "ecdsa-p256"
)

// Curve is the elliptic curve of a memory backend's KeyType.
func (b Backend) Curve() elliptic.Curve {
	if b.KeyType == KeyTypeP256 {
		return elliptic.P256()
	}
	return elliptic.P384()
}

// TSA is the timestamp authority's configuration.
type TSA struct {
	Backend `yaml:",inline"`
	// PolicyOID is the TSA policy; default 1.3.6.1.4.1.57264.2.
	PolicyOID string `yaml:"policy-oid"`
}

// GitHubActionsIssuer is the issuer trusted when no identity config is given.
const GitHubActionsIssuer = "https://token.actions.githubusercontent.com"

// Default returns the configuration of a server with no file: memory keys.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

// Load reads the file at path, parses it and loads the identity config
// it names. It does not validate.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if c.IdentityConfigPath != "" {
		if err := c.LoadIdentity(c.IdentityConfigPath); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Parse decodes YAML, refusing unknown keys, and applies defaults.
func Parse(b []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse: %w", err)
	}
	c.applyDefaults()
	return c, nil
}

// LoadIdentity reads a Fulcio identity config (YAML or JSON) into c.Identity.
func (c *Config) LoadIdentity(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: identity config: %w", err)
	}
	id, err := identity.ParseConfig(b)
	if err != nil {
		return fmt.Errorf("config: identity config %s: %w", path, err)
	}
	c.IdentityConfigPath, c.Identity = path, id
	return nil
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Organization == "" {
		c.Organization = "signet"
	}
	if c.CertificateLifetime == 0 {
		c.CertificateLifetime = 10 * time.Minute
	}
	if c.CA.Type == "" {
		c.CA.Type = BackendMemory
	}
	if c.TSA.Type == "" {
		c.TSA.Type = BackendMemory
	}
	if c.TSA.PolicyOID == "" {
		c.TSA.PolicyOID = "1.3.6.1.4.1.57264.2"
	}
	c.Vault.ApplyDefaults()
}

// Shutdown defaults.
const (
	DefaultShutdownDelay   = 5 * time.Second
	DefaultShutdownTimeout = 20 * time.Second
)

// EffectiveShutdown returns the shutdown delay and timeout with defaults:
// no delay in dev mode unless one is set.
func (c *Config) EffectiveShutdown() (delay, timeout time.Duration) {
	timeout = c.ShutdownTimeout
	switch {
	case c.ShutdownDelay != nil:
		delay = *c.ShutdownDelay
	case !c.Dev:
		delay = DefaultShutdownDelay
	}
	if timeout == 0 {
		timeout = DefaultShutdownTimeout
	}
	return delay, timeout
}

// EffectivePublicURL is PublicURL, or http://<listen> when it is unset.
func (c *Config) EffectivePublicURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	if c.TLSCertFile != "" {
		return "https://" + c.Listen
	}
	return "http://" + c.Listen
}

// Validate checks the configuration without touching files or networks.
func (c *Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("config: listen %q: %w", c.Listen, err)
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil || c.AdminListen == c.Listen {
			return fmt.Errorf("config: admin-listen %q must be a host:port other than listen", c.AdminListen)
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("config: tls-cert-file and tls-key-file go together")
	}
	if err := c.validateDev(host); err != nil {
		return err
	}
	u, err := url.Parse(c.EffectivePublicURL())
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("config: public-url %q must be an http(s) URL", c.PublicURL)
	}
	if delay, timeout := c.EffectiveShutdown(); delay < 0 || delay > 5*time.Minute || timeout < 0 || timeout > 10*time.Minute {
		return fmt.Errorf("config: shutdown-delay (at most 5m) and shutdown-timeout (at most 10m) must not be negative")
	}
	if c.CertificateLifetime < time.Minute || c.CertificateLifetime > 24*time.Hour {
		return fmt.Errorf("config: certificate-lifetime %s must be between 1m and 24h", c.CertificateLifetime)
	}
	if err := c.CA.validate("ca"); err != nil {
		return err
	}
	if err := c.TSA.validate("tsa"); err != nil {
		return err
	}
	if _, err := pki.ParseOID(c.TSA.PolicyOID); err != nil {
		return fmt.Errorf("config: tsa.policy-oid: %w", err)
	}
	if c.RateLimit.PerSecond < 0 || c.RateLimit.Burst < 0 || c.RateLimit.MaxClients < 0 {
		return fmt.Errorf("config: rate-limit values must not be negative")
	}
	if err := c.RateLimit.PerIdentity.validate(c.EffectiveIdentity()); err != nil {
		return err
	}
	if c.UsesVault() {
		if err := c.Vault.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if err := c.validateTUF(); err != nil {
		return err
	}
	if err := c.validateLog(); err != nil {
		return err
	}
	if len(c.Identity.OIDCIssuers) > 0 || len(c.Identity.MetaIssuers) > 0 {
		if err := c.Identity.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return c.validateIdentity()
}

func (b Backend) validate(name string) error {
	if b.KeyType != "" && b.Type != BackendMemory {
		return fmt.Errorf("config: %s.key-type is for memory keys only: a %s backend's key has its own type", name, b.Type)
	}
	switch b.Type {
	case BackendMemory:
		if b.KeyType != "" && b.KeyType != KeyTypeP384 && b.KeyType != KeyTypeP256 {
			return fmt.Errorf("config: %s.key-type %q is not %s or %s", name, b.KeyType, KeyTypeP384, KeyTypeP256)
		}
		return nil
	case BackendFile:
		if b.KeyFile == "" || b.ChainFile == "" {
			return fmt.Errorf("config: %s: a file backend needs key-file and chain-file", name)
		}
		return nil
	case BackendVault:
		if b.Key == "" || b.ChainPath == "" {
			return fmt.Errorf("config: %s: a vault backend needs key and chain-path (written by `signet ca init --backend vault`)", name)
		}
		return nil
	}
	return fmt.Errorf("config: %s.type %q is not one of %s, %s, %s", name, b.Type, BackendMemory, BackendFile, BackendVault)
}

// validateDev keeps the insecure dev issuer, which mints tokens for
// anyone, away from real keys and from the network.
func (c *Config) validateDev(listenHost string) error {
	if !c.Dev {
		return nil
	}
	if c.CA.Type != BackendMemory || c.TSA.Type != BackendMemory {
		return errors.New("config: --dev adds an insecure token issuer: it runs only with memory CA and TSA keys, never with file or vault keys")
	}
	ip := net.ParseIP(listenHost)
	if listenHost != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("config: --dev listens on loopback only, not %q: its token issuer is insecure", listenHost)
	}
	return nil
}

// UsesVault reports whether a key lives in Vault.
func (c *Config) UsesVault() bool {
	return c.CA.Type == BackendVault || c.TSA.Type == BackendVault
}

// DefaultIdentity trusts GitHub Actions on github.com, audience "sigstore".
func DefaultIdentity() identity.Config {
	return identity.Config{OIDCIssuers: map[string]identity.Issuer{
		GitHubActionsIssuer: {IssuerURL: GitHubActionsIssuer, ClientID: "sigstore", Type: identity.TypeGitHubWorkflow},
	}}
}

// Marshal renders the configuration as YAML. Secrets (the Vault token, the
// AppRole secret ID) are never written; they come from the environment.
func (c *Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return buf.Bytes(), nil
}
