package keyless

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/internal/ratelimit"
)

// IdentityKey is what makes two tokens of one issuer the same identity for
// the per-identity rate limit.
type IdentityKey string

// Identity key kinds. When a token lacks the kind's claim, it is limited
// under its issuer and its certified identity (the SAN, Principal.Name):
// never silently under a shared or empty key.
const (
	// KeyRepository is the issuer and the repository_id claim (GitHub).
	KeyRepository IdentityKey = "repository"
	// KeyRepositoryOwner is the issuer and the repository_owner_id claim (GitHub).
	KeyRepositoryOwner IdentityKey = "repository-owner"
	// KeySubject is the issuer and the sub claim.
	KeySubject IdentityKey = "subject"
)

// claim is the token claim a key kind reads.
func (k IdentityKey) claim() string {
	switch k {
	case KeyRepository:
		return "repository_id"
	case KeyRepositoryOwner:
		return "repository_owner_id"
	case KeySubject:
		return "sub"
	}
	return ""
}

// IdentityRateLimit configures IdentityBuckets.
type IdentityRateLimit struct {
	// PerSecond is the sustained rate per identity; it must be positive.
	PerSecond float64
	// Burst is how many requests an identity may send at once; default 2×PerSecond.
	Burst int
	// MaxIdentities bounds the identities tracked; default 10,000.
	MaxIdentities int
	// Issuers maps each oidc-issuers URL to its key kind.
	Issuers map[string]IdentityKey
	// MetaIssuers maps each meta-issuers pattern to its key kind; a token's
	// issuer that no Issuers entry names takes the kind of the first
	// pattern (in sorted order, as identity routes tokens) that matches it.
	// A token whose issuer matches neither is keyed by its SAN.
	MetaIssuers map[string]IdentityKey
}

// IdentityBuckets limits each verified identity to a token bucket. The
// buckets live in memory, so the limit is per replica: N replicas behind a
// load balancer let an identity through up to N times as often. It is safe
// for concurrent use.
type IdentityBuckets struct {
	cfg     IdentityRateLimit
	clock   func() time.Time
	metas   []metaKey
	limit   string // the limit, as messages name it
	buckets *ratelimit.Buckets
}

type metaKey struct {
	re   *regexp.Regexp
	kind IdentityKey
}

// NewIdentityBuckets returns the per-identity limiter of cfg, reading time
// from clock (nil means time.Now).
func NewIdentityBuckets(cfg IdentityRateLimit, clock func() time.Time) (*IdentityBuckets, error) {
	if !(cfg.PerSecond > 0) || math.IsInf(cfg.PerSecond, 0) {
		return nil, fmt.Errorf("keyless: per-identity rate limit: rate %v must be a positive finite number", cfg.PerSecond)
	}
	buckets := ratelimit.New(ratelimit.Limits{PerSecond: cfg.PerSecond, Burst: cfg.Burst, MaxKeys: cfg.MaxIdentities})
	cfg.Burst, cfg.MaxIdentities = buckets.Limits().Burst, buckets.Limits().MaxKeys
	if clock == nil {
		clock = time.Now
	}
	for u, k := range cfg.Issuers {
		if k.claim() == "" {
			return nil, fmt.Errorf("keyless: per-identity rate limit: issuer %s: unknown key kind %q", u, k)
		}
	}
	b := &IdentityBuckets{cfg: cfg, clock: clock, buckets: buckets}
	for _, pattern := range slices.Sorted(maps.Keys(cfg.MetaIssuers)) {
		kind := cfg.MetaIssuers[pattern]
		if kind.claim() == "" {
			return nil, fmt.Errorf("keyless: per-identity rate limit: meta-issuer %s: unknown key kind %q", pattern, kind)
		}
		re, err := identity.MetaRegex(pattern)
		if err != nil {
			return nil, fmt.Errorf("keyless: per-identity rate limit: meta-issuer %s: %w", pattern, err)
		}
		b.metas = append(b.metas, metaKey{re: re, kind: kind})
	}
	unit := "requests/s"
	if cfg.PerSecond == 1 {
		unit = "request/s"
	}
	b.limit = fmt.Sprintf("%s %s (burst %d)", strconv.FormatFloat(cfg.PerSecond, 'g', -1, 64), unit, cfg.Burst)
	return b, nil
}

// identityKey is the bucket key of a principal and how messages name it.
type identityKey struct {
	kind IdentityKey
	id   string // unambiguous map key
	desc string // e.g. "repository_id 123 of https://token.actions.githubusercontent.com"
}

// keyOf picks the bucket of p: the token's issuer (its iss claim, which
// routed it, else the certified issuer) and the claim of the issuer's kind,
// else the SAN.
func (b *IdentityBuckets) keyOf(p *identity.Principal) identityKey {
	iss := p.Claims["iss"]
	if iss == "" {
		iss = p.Issuer
	}
	kind, known := b.kindOf(iss)
	if known {
		claim := kind.claim()
		if v := p.Claims[claim]; v != "" {
			desc := fmt.Sprintf("%s %s of %s", claim, v, iss)
			if kind == KeySubject {
				desc = fmt.Sprintf("%s %q of %s", claim, v, iss)
			}
			return identityKey{kind: kind, id: fmt.Sprintf("%s %q %q", kind, iss, v), desc: desc}
		}
	}
	desc := fmt.Sprintf("identity %q of %s", p.Name(), iss)
	if known {
		desc += fmt.Sprintf(" (the token has no %s claim)", kind.claim())
	}
	return identityKey{kind: kind, id: fmt.Sprintf("san %q %q", iss, p.Name()), desc: desc}
}

// kindOf resolves the key kind of a token issuer the way identity routes
// it: the exact oidc-issuers URL, else the first matching meta-issuer.
func (b *IdentityBuckets) kindOf(iss string) (IdentityKey, bool) {
	if k, ok := b.cfg.Issuers[iss]; ok {
		return k, true
	}
	for _, m := range b.metas {
		if m.re.MatchString(iss) {
			return m.kind, true
		}
	}
	return "", false
}

// Allow takes a token from p's bucket, or returns problem.TooManyRequests
// naming the limit and the key, with the time until a token is back as its
// RetryAfter.
func (b *IdentityBuckets) Allow(p *identity.Principal) error {
	k := b.keyOf(p)
	ok, retry := b.buckets.Reserve(k.id, b.clock())
	if ok {
		return nil
	}
	per := "identity"
	switch k.kind {
	case KeyRepository:
		per = "repository"
	case KeyRepositoryOwner:
		per = "repository owner"
	case KeySubject:
		per = "subject"
	}
	secs := problem.RetryAfterSeconds(retry)
	return problem.TooManyRequests("rate limit of %s per %s reached for %s: retry in %ds", b.limit, per, problem.Clip(k.desc, 256), secs).
		WithRetryAfter(time.Duration(secs) * time.Second)
}
