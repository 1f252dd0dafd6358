package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sigstore/fulcio/pkg/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/testclock"
)

// principalIssuers are the issuers FuzzPrincipalFor maps claims for,
// picked by the fuzzer: the three GitHub forms of the github-workflow
// type first, then one issuer of every other type.
var principalIssuers = []struct {
	iss  string
	conf Issuer
}{
	{"https://token.actions.githubusercontent.com", Issuer{ClientID: "sigstore", Type: TypeGitHubWorkflow}},
	{"https://token.actions.octo.ghe.com", Issuer{ClientID: "sigstore", Type: TypeGitHubWorkflow}},
	{"https://ghes.example.com/_services/token", Issuer{ClientID: "sigstore", Type: TypeCIProvider, CIProvider: ProfileGitHubWorkflow}},
	{"https://gitlab.com", Issuer{ClientID: "sigstore", Type: TypeGitLabPipeline}},
	{"https://agent.buildkite.com", Issuer{ClientID: "sigstore", Type: TypeBuildkiteJob}},
	{"https://oidc.codefresh.io", Issuer{ClientID: "sigstore", Type: TypeCodefreshWorkflow}},
	{"https://oidc.circleci.com/org/x", Issuer{ClientID: "sigstore", Type: TypeCIProvider, CIProvider: ProfileCircleCIJob}},
	{"https://accounts.example.com", Issuer{ClientID: "sigstore", Type: TypeEmail}},
	{"https://dex.example.com/auth", Issuer{ClientID: "sigstore", Type: TypeEmail, IssuerClaim: "$.federated_claims.connector_id"}},
	{"https://accounts.builds.example.com", Issuer{ClientID: "sigstore", Type: TypeURI, SubjectDomain: "https://builds.example.com"}},
	{"https://login.example.com", Issuer{ClientID: "sigstore", Type: TypeUsername, SubjectDomain: "example.com"}},
	{"https://oidc.eks.eu-west-1.amazonaws.com/id/ABC", Issuer{ClientID: "sigstore", Type: TypeKubernetes}},
	{"https://spire.example.com", Issuer{ClientID: "sigstore", Type: TypeSPIFFE, SPIFFETrustDomain: "example.com"}},
	{"https://issuer.chainguard.example", Issuer{ClientID: "sigstore", Type: TypeChainguard}},
	{"https://token.actions.githubusercontent.com", Issuer{ClientID: "sigstore", Type: TypeGitHubWorkflow, ChallengeClaim: "repository"}},
}

// FuzzPrincipalFor maps arbitrary JSON claims, as a verified token of a
// github-workflow issuer (or, by sel, of another type) carries them, to a
// Principal. It must never panic and refuse only with a 401; a Principal
// it returns must be certifiable: the CA issues a certificate for it whose
// SAN and Fulcio extensions read back unchanged.
//
//	go test -run '^$' -fuzz '^FuzzPrincipalFor$' -fuzztime 30s -parallel 1 ./identity/
func FuzzPrincipalFor(f *testing.F) {
	now := testclock.Now()
	kc, err := ca.NewMemoryCA(context.Background(), "signet-fuzz", now, nil)
	if err != nil {
		f.Fatal(err)
	}
	issuer, err := ca.NewIssuer(kc, 10*time.Minute, func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range claimsSeeds(f) {
		for sel := range principalIssuers {
			f.Add(uint8(sel), []byte(s))
		}
	}
	cfg := Config{OIDCIssuers: map[string]Issuer{}}
	f.Fuzz(func(t *testing.T, sel uint8, raw []byte) {
		defer watchdog(fuzzLimit, raw)()
		pick := principalIssuers[int(sel)%len(principalIssuers)]
		m, err := decodeClaims(raw)
		if err != nil {
			return
		}
		// The token was verified: its iss is the issuer's, it has exp and
		// iat (filled in when the fuzzer left them out, so that it spends
		// its time on the mapping), and it passed checkClaims.
		m["iss"] = pick.iss
		now := testclock.Now().Unix()
		for name, v := range map[string]int64{"iat": now, "exp": now + 300} {
			if _, ok := m[name]; !ok {
				m[name] = json.Number(strconv.FormatInt(v, 10))
			}
		}
		if err := checkClaims(m, DefaultMaxTokenLifetime); err != nil {
			if problem.StatusOf(err) != http.StatusUnauthorized {
				t.Fatalf("%q: refused with status %d, not 401: %v", raw, problem.StatusOf(err), err)
			}
			return
		}
		sub := m["sub"].(string)
		cs := splitClaims(m)
		p, err := principalFor(cfg, pick.conf, verified{issuer: pick.iss, subject: sub, claims: cs.strings, kinds: cs.kinds, raw: cs.values})
		if err != nil {
			if problem.StatusOf(err) != http.StatusUnauthorized {
				t.Fatalf("%s: claims %q refused with status %d, not 401: %v", pick.conf.Type, raw, problem.StatusOf(err), err)
			}
			return
		}
		if p.Subject != sub || p.Extensions.Issuer == "" || p.Name() == "" {
			t.Fatalf("%s: claims %q map to an incomplete principal %+v", pick.conf.Type, raw, p)
		}
		cert, err := issuer.Issue(context.Background(), key.Public(), p)
		if err != nil {
			t.Fatalf("%s: claims %q map to %q, which the CA cannot certify (status %d): %v",
				pick.conf.Type, raw, p.Name(), problem.StatusOf(err), err)
		}
		var got string
		switch {
		case p.URI != nil && len(cert.URIs) == 1:
			got = cert.URIs[0].String()
		case p.Email != "" && len(cert.EmailAddresses) == 1:
			got = cert.EmailAddresses[0]
		case p.OtherName != "":
			got, _ = cryptoutils.UnmarshalOtherNameSAN(cert.Extensions)
		}
		if got != p.Name() {
			t.Fatalf("%s: claims %q: certified SAN reads back as %q, not %q", pick.conf.Type, raw, got, p.Name())
		}
		exts, err := certificate.ParseExtensions(cert.Extensions)
		if err != nil {
			t.Fatalf("%s: claims %q: the certificate's Fulcio extensions do not parse: %v", pick.conf.Type, raw, err)
		}
		if exts != p.Extensions {
			t.Fatalf("%s: claims %q: Fulcio extensions read back as\n%+v\nnot\n%+v", pick.conf.Type, raw, exts, p.Extensions)
		}
	})
}
