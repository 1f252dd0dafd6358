package config

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/signet-dev/signet/identity"
)

// OIDC tunes how identity tokens are verified. Zero values take the
// defaults of identity.Options.
type OIDC struct {
	// ClockSkew is tolerated on a token's exp, nbf and iat; default 1m, at most 5m.
	ClockSkew time.Duration `yaml:"clock-skew,omitempty"`
	// MaxTokenLifetime caps exp - iat of a token whose issuer sets no
	// max-token-lifetime of its own; default 24h, at most 30 days.
	MaxTokenLifetime time.Duration `yaml:"max-token-lifetime,omitempty"`
	// DiscoveryTimeout bounds an issuer's discovery; default 10s.
	DiscoveryTimeout time.Duration `yaml:"discovery-timeout,omitempty"`
	// JWKSTimeout bounds one fetch of an issuer's keys; default 10s.
	JWKSTimeout time.Duration `yaml:"jwks-timeout,omitempty"`
	// JWKSRefetchInterval is the least time between two fetches of an
	// issuer's keys, however many tokens name unknown keys; default 10s.
	JWKSRefetchInterval time.Duration `yaml:"jwks-refetch-interval,omitempty"`
	// HTTPClient reaches the issuers; nil means a default client. Set by
	// tests and embedders, never from a file.
	HTTPClient *http.Client `yaml:"-"`
}

// Options returns the identity.Options these settings describe.
func (o OIDC) Options(log *slog.Logger) identity.Options {
	return identity.Options{
		HTTPClient: o.HTTPClient, Skew: o.ClockSkew, MaxTokenLifetime: o.MaxTokenLifetime, DiscoveryTimeout: o.DiscoveryTimeout,
		JWKSTimeout: o.JWKSTimeout, JWKSRefetchInterval: o.JWKSRefetchInterval, Log: log,
	}
}

// Effective returns the settings with every default filled in.
func (o OIDC) Effective() OIDC {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.ClockSkew, identity.DefaultSkew)
	def(&o.MaxTokenLifetime, identity.DefaultMaxTokenLifetime)
	def(&o.DiscoveryTimeout, identity.DefaultDiscoveryTimeout)
	def(&o.JWKSTimeout, identity.DefaultJWKSTimeout)
	def(&o.JWKSRefetchInterval, identity.DefaultJWKSRefetchInterval)
	return o
}

func (o OIDC) validate() error {
	for _, f := range []struct {
		name string
		v    time.Duration
		max  time.Duration
	}{
		{"clock-skew", o.ClockSkew, 5 * time.Minute},
		{"max-token-lifetime", o.MaxTokenLifetime, 30 * 24 * time.Hour},
		{"discovery-timeout", o.DiscoveryTimeout, 2 * time.Minute},
		{"jwks-timeout", o.JWKSTimeout, 2 * time.Minute},
		{"jwks-refetch-interval", o.JWKSRefetchInterval, time.Hour},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("config: oidc.%s %s must be between 0 (the default) and %s", f.name, f.v, f.max)
		}
	}
	return nil
}

// EffectiveIdentity is the identity config signet trusts: the loaded one,
// or GitHub Actions on github.com when none is given.
func (c *Config) EffectiveIdentity() identity.Config {
	if len(c.Identity.OIDCIssuers) == 0 && len(c.Identity.MetaIssuers) == 0 {
		return DefaultIdentity()
	}
	return c.Identity
}

// validateIdentity checks the oidc settings and compiles the policy against
// the effective identity config.
func (c *Config) validateIdentity() error {
	if err := c.OIDC.validate(); err != nil {
		return err
	}
	if _, err := identity.NewPolicy(c.Policy, c.EffectiveIdentity(), nil); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
