package identity

import (
	"fmt"
	"net/url"
	"strings"
)

// Issuer types understood by signet, named as in Fulcio's identity config.
// Everything signet knows about each is in issuerTypes.
const (
	// TypeEmail certifies the verified `email` claim as an rfc822Name SAN.
	// The token's email_verified must be true: the JSON boolean, or the
	// string "true" or "True" as Amazon Cognito sends it (Fulcio v1.8.8
	// accepts the same), unless skip-email-verification is set. The
	// address must be ASCII.
	TypeEmail = "email"
	// TypeCIProvider maps claims through the ci-issuer-metadata profile named
	// by the issuer's ci-provider.
	TypeCIProvider = "ci-provider"
	// TypeGitHubWorkflow is GitHub Actions: the github-workflow profile, with
	// the base URL derived from the issuer.
	TypeGitHubWorkflow = "github-workflow"
	// TypeGitLabPipeline is GitLab CI: the gitlab-pipeline profile.
	TypeGitLabPipeline = "gitlab-pipeline"
	// TypeBuildkiteJob is Buildkite: the buildkite-job profile.
	TypeBuildkiteJob = "buildkite-job"
	// TypeCodefreshWorkflow is Codefresh: the codefresh-workflow profile.
	TypeCodefreshWorkflow = "codefresh-workflow"
	// TypeChainguard certifies <issuer>/<sub> as a URI SAN; the proof of
	// possession signs the verified email when the token has one, else sub.
	TypeChainguard = "chainguard-identity"
	// TypeKubernetes certifies the pod's service account as
	// https://kubernetes.io/namespaces/<ns>/serviceaccounts/<sa>.
	TypeKubernetes = "kubernetes"
	// TypeSPIFFE certifies a `sub` that is a SPIFFE ID of the issuer's trust domain.
	TypeSPIFFE = "spiffe"
	// TypeURI certifies a `sub` that is a URI on the issuer's subject-domain.
	TypeURI = "uri"
	// TypeUsername certifies `sub!subject-domain` as an otherName SAN.
	TypeUsername = "username"
)

// issuerType is everything signet knows about one issuer type. A new type
// is one more entry in issuerTypes; nothing else switches on the type.
type issuerType struct {
	// name is the type as an identity config spells it.
	name string
	// profile is the CI profile the type maps through, for the CI types;
	// nil for the types with a mapping of their own.
	profile func(iss Issuer) string
	// principal maps verified claims to a Principal (SAN and extensions);
	// principalFor sets its Challenge from challenge.
	principal func(cfg Config, conf Issuer, tok verified) (*Principal, error)
	// validate checks the configuration fields the type needs.
	validate func(c Config, e issuerCheck) error
	// challenge lists the claims the proof of possession signs, by
	// preference: the first the token carries non-empty is used. It is
	// also what /api/v2/configuration advertises (ChallengeClaim). An
	// issuer's challenge-claim replaces it.
	challenge []string
	// details are the type's own lines of `signet config validate`, for
	// the issuer configured under key.
	details func(key string, iss Issuer) []string
}

// issuerTypes is the one table of issuer types, in the order error
// messages list them.
var issuerTypes = []issuerType{
	{name: TypeEmail, principal: own(emailPrincipal), validate: validateEmail, challenge: []string{"email"}, details: emailDetails},
	ciType(TypeCIProvider, func(iss Issuer) string { return iss.CIProvider }),
	ciType(TypeGitHubWorkflow, fixedProfile(ProfileGitHubWorkflow)),
	ciType(TypeGitLabPipeline, fixedProfile(ProfileGitLabPipeline)),
	ciType(TypeBuildkiteJob, fixedProfile(ProfileBuildkiteJob)),
	ciType(TypeCodefreshWorkflow, fixedProfile(ProfileCodefreshWorkflow)),
	// cosign signs the verified email when the token has one, else sub
	// (oauthflow.SubjectFromToken), and Fulcio's chainguard principal checks
	// that; Fulcio's /api/v2/configuration still advertises "sub" for it.
	{name: TypeChainguard, principal: own(chainguardPrincipal), validate: noFields, challenge: []string{"email", "sub"}, details: noDetails},
	{name: TypeKubernetes, principal: own(kubernetesPrincipal), validate: noFields, challenge: []string{"sub"}, details: noDetails},
	{name: TypeSPIFFE, principal: own(spiffePrincipal), validate: validateSPIFFE, challenge: []string{"sub"}, details: spiffeDetails},
	{name: TypeURI, principal: own(uriPrincipal), validate: validateSubjectDomain, challenge: []string{"sub"}, details: subjectDomainDetails},
	{name: TypeUsername, principal: own(usernamePrincipal), validate: validateSubjectDomain, challenge: []string{"sub"}, details: subjectDomainDetails},
}

// ciType is a type that maps through the CI profile named by profile.
func ciType(name string, profile func(Issuer) string) issuerType {
	return issuerType{
		name: name, profile: profile, challenge: []string{"sub"},
		principal: func(cfg Config, conf Issuer, tok verified) (*Principal, error) {
			return profilePrincipal(cfg, profile(conf), conf, tok)
		},
		validate: func(c Config, e issuerCheck) error { return validateProfile(c, profile(e.iss), e) },
		details:  func(key string, iss Issuer) []string { return profileDetails(key, profile(iss)) },
	}
}

// fixedProfile is the profile of Fulcio's dedicated CI types: the one of
// their own name.
func fixedProfile(name string) func(Issuer) string {
	return func(Issuer) string { return name }
}

// own adapts a mapping that needs no CI profile to the table's signature.
func own(f func(conf Issuer, tok verified) (*Principal, error)) func(Config, Issuer, verified) (*Principal, error) {
	return func(_ Config, conf Issuer, tok verified) (*Principal, error) { return f(conf, tok) }
}

// typeOf finds the table entry of an issuer's type.
func typeOf(iss Issuer) (issuerType, bool) {
	for _, t := range issuerTypes {
		if t.name == iss.Type {
			return t, true
		}
	}
	return issuerType{}, false
}

// challengeValue is what the proof of possession of tok signs by the
// type: the first of its challenge claims the token carries non-empty
// (sub is the verified subject).
func (t issuerType) challengeValue(tok verified) string {
	for _, claim := range t.challenge {
		v := tok.claims[claim]
		if claim == "sub" {
			v = tok.subject
		}
		if v != "" {
			return v
		}
	}
	return ""
}

// Types lists every issuer type signet understands, as an identity config
// names them.
func Types() []string {
	names := make([]string, len(issuerTypes))
	for i, t := range issuerTypes {
		names[i] = t.name
	}
	return names
}

// ChallengeClaim is the claim GET /api/v2/configuration names as the one
// the proof of possession of iss's tokens signs, as Fulcio v1.8.8 names it
// (config.issuerToChallengeClaim): its challenge-claim when set, else its
// type's claim, "email" for email issuers and "sub" for every other type.
// For chainguard-identity that is sub, though cosign (and signet) sign the
// email instead when the token carries one. It is empty for a type signet
// does not know, which a validated config never holds.
func ChallengeClaim(iss Issuer) string {
	if iss.ChallengeClaim != "" {
		return iss.ChallengeClaim
	}
	t, ok := typeOf(iss)
	if !ok {
		return ""
	}
	return t.challenge[len(t.challenge)-1]
}

// Describe lists what `signet config validate` prints about the issuer
// configured under key (an oidc-issuers URL or a meta-issuers pattern):
// its type (with the profile of a ci-provider), its audience, the fields
// of its type, and whether it has a ca-cert.
func Describe(key string, iss Issuer) []string {
	kind := iss.Type
	t, ok := typeOf(iss)
	if ok && t.profile != nil && t.profile(iss) != t.name {
		kind += " " + t.profile(iss)
	}
	out := []string{"type " + kind, "audience " + iss.ClientID}
	if ok {
		out = append(out, t.details(key, iss)...)
	}
	if iss.CACert != "" {
		out = append(out, "ca-cert")
	}
	return out
}

// profileName is the CI profile an issuer maps through: its ci-provider for
// type ci-provider, else the profile named like its type (Fulcio's
// dedicated CI types); "" for the other types.
func profileName(iss Issuer) string {
	if t, ok := typeOf(iss); ok && t.profile != nil {
		return t.profile(iss)
	}
	return ""
}

// profilePrincipal maps claims through the CI profile name; a
// github-workflow profile takes its base URL from the issuer.
func profilePrincipal(cfg Config, name string, conf Issuer, tok verified) (*Principal, error) {
	md, ok := cfg.Profile(name)
	if name == "" || !ok {
		return nil, fmt.Errorf("identity: issuer type %q (ci-provider %q) has no mapping", conf.Type, conf.CIProvider)
	}
	if name == ProfileGitHubWorkflow {
		md = withGitHubBase(md, tok.issuer)
	}
	return ciPrincipal(md, tok)
}

// issuerCheck is one issuer entry under validation.
type issuerCheck struct {
	// where names the entry, e.g. `identity: oidc-issuers["https://..."]`.
	where string
	// url is the issuer URL, a pattern's * read as x.
	url *url.URL
	// iss is the entry.
	iss Issuer
	// meta is true for a meta-issuers pattern.
	meta bool
}

// noFields validates a type that has no fields of its own.
func noFields(Config, issuerCheck) error { return nil }

// validateEmail checks the issuer-claim of an email issuer.
func validateEmail(_ Config, e issuerCheck) error {
	if e.iss.IssuerClaim == "" {
		return nil
	}
	if _, err := claimPath(e.iss.IssuerClaim); err != nil {
		return fmt.Errorf("%s.issuer-claim: %w", e.where, err)
	}
	return nil
}

// validateProfile checks that the CI profile name exists.
func validateProfile(c Config, name string, e issuerCheck) error {
	if name == "" {
		return fmt.Errorf("%s.ci-provider is missing for type ci-provider: name a ci-issuer-metadata entry or a shipped profile (%s)", e.where, strings.Join(ShippedProfiles(), ", "))
	}
	if _, ok := c.Profile(name); !ok {
		return fmt.Errorf("%s.ci-provider %q has no entry in ci-issuer-metadata and is not a shipped profile (%s)", e.where, name, strings.Join(ShippedProfiles(), ", "))
	}
	return nil
}

// validateSPIFFE checks the trust domain of a spiffe issuer.
func validateSPIFFE(_ Config, e issuerCheck) error {
	if e.meta {
		return fmt.Errorf("%s.type spiffe is not supported for meta-issuers (one pattern would map many issuers to one trust domain): list each issuer under oidc-issuers", e.where)
	}
	if e.iss.SPIFFETrustDomain == "" {
		return fmt.Errorf("%s.spiffe-trust-domain is missing for type spiffe", e.where)
	}
	if err := validTrustDomain(e.iss.SPIFFETrustDomain); err != nil {
		return fmt.Errorf("%s.spiffe-trust-domain: %w", e.where, err)
	}
	return nil
}

// validateSubjectDomain checks the subject-domain of a uri or username issuer.
func validateSubjectDomain(_ Config, e issuerCheck) error {
	if err := validSubjectDomain(e.iss.Type, e.iss.SubjectDomain, e.url); err != nil {
		return fmt.Errorf("%s.subject-domain: %w", e.where, err)
	}
	return nil
}

// noDetails is the config validate line of a type without fields.
func noDetails(string, Issuer) []string { return nil }

// emailDetails names an email issuer's issuer-claim.
func emailDetails(_ string, iss Issuer) []string {
	if iss.IssuerClaim == "" {
		return nil
	}
	return []string{"issuer-claim " + iss.IssuerClaim}
}

// profileDetails names the base URL of the SANs of an issuer that maps
// through the github-workflow profile.
func profileDetails(key, profile string) []string {
	if profile != ProfileGitHubWorkflow {
		return nil
	}
	if base, ok := GitHubBaseURL(key); ok {
		return []string{"base URL " + base}
	}
	return nil
}

// spiffeDetails names a spiffe issuer's trust domain.
func spiffeDetails(_ string, iss Issuer) []string {
	return []string{"trust domain " + iss.SPIFFETrustDomain}
}

// subjectDomainDetails names a uri or username issuer's subject-domain.
func subjectDomainDetails(_ string, iss Issuer) []string {
	return []string{"subject-domain " + iss.SubjectDomain}
}
