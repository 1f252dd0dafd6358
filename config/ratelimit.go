package config

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/signet-dev/signet/identity"
)

// RateLimit bounds each client address's POST requests.
type RateLimit struct {
	// PerSecond is the sustained rate per client; 0 disables the limit.
	PerSecond float64 `yaml:"requests-per-second,omitempty"`
	// Burst is how many requests a client may send at once; default 2×rate.
	Burst int `yaml:"burst,omitempty"`
	// MaxClients bounds the addresses tracked; default 10,000.
	MaxClients int `yaml:"max-clients,omitempty"`
	// PerIdentity bounds each verified identity's certificate requests;
	// off unless its rate is set.
	PerIdentity IdentityRateLimit `yaml:"per-identity,omitempty"`
}

// Key kinds of the per-identity rate limit: what makes two tokens of one
// issuer the same identity.
const (
	// IdentityKeyRepository is the issuer and the repository_id claim (a
	// GitHub repository, across renames); the default of GitHub issuers.
	IdentityKeyRepository = "repository"
	// IdentityKeyRepositoryOwner is the issuer and the repository_owner_id
	// claim: one limit shared by every repository of an organization.
	IdentityKeyRepositoryOwner = "repository-owner"
	// IdentityKeySubject is the issuer and the sub claim; the default of
	// every issuer that is not GitHub, refused for GitHub issuers, whose sub
	// has many shapes for one repository.
	IdentityKeySubject = "subject"
)

// IdentityRateLimit bounds the certificate requests of each verified
// identity, after token verification and policy, before anything is
// signed. Buckets live in memory: the limit is per replica.
type IdentityRateLimit struct {
	// PerSecond is the sustained rate per identity; 0 disables the limit.
	PerSecond float64 `yaml:"requests-per-second,omitempty"`
	// Burst is how many requests an identity may send at once; default 2×rate.
	Burst int `yaml:"burst,omitempty"`
	// MaxIdentities bounds the identities tracked; default 10,000.
	MaxIdentities int `yaml:"max-identities,omitempty"`
	// Keys maps an oidc-issuers URL or a meta-issuers pattern (exactly as
	// configured) to its key kind: repository, repository-owner or subject.
	// Issuers left out get their default (KeyFor). A token that lacks the
	// kind's claim is limited under its issuer and certified identity (SAN).
	Keys map[string]string `yaml:"keys,omitempty"`
}

// IsGitHubIssuer reports whether iss issues GitHub Actions tokens: type
// github-workflow, or type ci-provider with the github-workflow profile.
func IsGitHubIssuer(iss identity.Issuer) bool {
	return iss.Type == identity.TypeGitHubWorkflow ||
		iss.Type == identity.TypeCIProvider && iss.CIProvider == identity.ProfileGitHubWorkflow
}

// KeyFor is the key kind of the issuer configured under key (an
// oidc-issuers URL or a meta-issuers pattern): the configured one, else
// repository for GitHub issuers and subject for the others.
func (l IdentityRateLimit) KeyFor(key string, iss identity.Issuer) string {
	if k, ok := l.Keys[key]; ok {
		return k
	}
	if IsGitHubIssuer(iss) {
		return IdentityKeyRepository
	}
	return IdentityKeySubject
}

// validate checks the numbers and that each key names a configured issuer
// and a kind that suits it.
func (l IdentityRateLimit) validate(issuers identity.Config) error {
	const field = "rate-limit.per-identity"
	if !(l.PerSecond >= 0) || math.IsInf(l.PerSecond, 0) {
		return fmt.Errorf("config: %s.requests-per-second %v must be a finite number, 0 (off) or more", field, l.PerSecond)
	}
	if l.Burst < 0 || l.MaxIdentities < 0 {
		return fmt.Errorf("config: %s: burst %d and max-identities %d must not be negative", field, l.Burst, l.MaxIdentities)
	}
	for _, key := range slices.Sorted(maps.Keys(l.Keys)) {
		kind := l.Keys[key]
		iss, ok := issuers.OIDCIssuers[key]
		if !ok {
			iss, ok = issuers.MetaIssuers[key]
		}
		switch {
		case !ok:
			return fmt.Errorf("config: %s.keys[%q]: not an oidc-issuers URL or meta-issuers pattern of the identity config", field, key)
		case kind != IdentityKeyRepository && kind != IdentityKeyRepositoryOwner && kind != IdentityKeySubject:
			return fmt.Errorf("config: %s.keys[%q]: %q is not one of %s, %s, %s", field, key, kind,
				IdentityKeyRepository, IdentityKeyRepositoryOwner, IdentityKeySubject)
		case kind == IdentityKeySubject && IsGitHubIssuer(iss):
			return fmt.Errorf("config: %s.keys[%q]: %q is not allowed for github-workflow issuers: use %s or %s",
				field, key, kind, IdentityKeyRepository, IdentityKeyRepositoryOwner)
		}
	}
	return nil
}
