package identity

import (
	"net/mail"
	"net/url"
	"strings"

	"github.com/signet-dev/signet/internal/problem"
)

// emailPrincipal certifies a verified email address (Fulcio's email type).
// The issuer certified is the token's, or the claim named by issuer-claim.
func emailPrincipal(conf Issuer, tok verified) (*Principal, error) {
	if err := requireString(tok.kinds, tok.claims, "email", "email address certified"); err != nil {
		return nil, err
	}
	email := tok.claims["email"]
	if !conf.SkipEmailVerification && !emailVerified(tok.raw) {
		return nil, problem.Unauthorized("identity token's email %q is not verified (email_verified is not true)", email)
	}
	if !isEmail(email) {
		return nil, problem.Unauthorized("identity token's email %q is not a valid email address", email)
	}
	issuer := tok.issuer
	if conf.IssuerClaim != "" {
		v, ok := lookupPath(tok.raw, conf.IssuerClaim)
		if !ok || v == "" {
			return nil, problem.Unauthorized("identity token lacks the issuer claim %q", conf.IssuerClaim)
		}
		issuer = v
	}
	return &Principal{Issuer: issuer, Email: email, Extensions: plainExtensions(issuer, tok.subject)}, nil
}

// uriPrincipal certifies a `sub` that is a URI on the subject domain, with
// the same scheme and exactly the same host (Fulcio's uri type).
func uriPrincipal(conf Issuer, tok verified) (*Principal, error) {
	if isEmail(tok.subject) {
		return nil, problem.Unauthorized("identity token's sub %q is an email address, not a URI", tok.subject)
	}
	u, err := url.Parse(tok.subject)
	domain, derr := url.Parse(conf.SubjectDomain)
	if err != nil || derr != nil || u.Scheme == "" {
		return nil, problem.Unauthorized("identity token's sub %q is not an absolute URI", tok.subject)
	}
	if u.Scheme != domain.Scheme || u.Hostname() != domain.Hostname() {
		return nil, problem.Unauthorized("identity token's sub %q is not under the issuer's subject domain %q", tok.subject, conf.SubjectDomain)
	}
	return &Principal{Issuer: tok.issuer, URI: u, Extensions: plainExtensions(tok.issuer, tok.subject)}, nil
}

// usernamePrincipal certifies `sub!subject-domain` as an otherName SAN
// (Fulcio's username type).
func usernamePrincipal(conf Issuer, tok verified) (*Principal, error) {
	switch {
	case tok.subject == "":
		return nil, problem.Unauthorized("identity token has no sub")
	case strings.Contains(tok.subject, "!"):
		return nil, problem.Unauthorized("identity token's sub %q holds '!', which a username cannot", tok.subject)
	case isEmail(tok.subject):
		return nil, problem.Unauthorized("identity token's sub %q is an email address, not a username", tok.subject)
	}
	return &Principal{
		Issuer: tok.issuer, OtherName: tok.subject + "!" + conf.SubjectDomain,
		Extensions: plainExtensions(tok.issuer, tok.subject),
	}, nil
}

// kubernetesPrincipal certifies a pod's service account from the
// `kubernetes.io` claim (Fulcio's kubernetes type). Unlike Fulcio, a token
// without namespace or service account, or with a '/' in one, is refused
// rather than certified with empty or extra path segments.
func kubernetesPrincipal(_ Issuer, tok verified) (*Principal, error) {
	ns, _ := nested(tok.raw, "kubernetes.io", "namespace")
	sa, _ := nested(tok.raw, "kubernetes.io", "serviceaccount", "name")
	if ns == "" || sa == "" {
		return nil, problem.Unauthorized("identity token lacks kubernetes.io.namespace or kubernetes.io.serviceaccount.name")
	}
	if strings.Contains(ns+sa, "/") {
		return nil, problem.Unauthorized("identity token's kubernetes namespace %q or service account %q holds '/'", ns, sa)
	}
	u := &url.URL{Scheme: "https", Host: "kubernetes.io", Path: "/namespaces/" + ns + "/serviceaccounts/" + sa}
	return &Principal{Issuer: tok.issuer, URI: u, Extensions: plainExtensions(tok.issuer, tok.subject)}, nil
}

// spiffePrincipal certifies a `sub` that is a SPIFFE ID of the issuer's
// trust domain (Fulcio's spiffe type).
func spiffePrincipal(conf Issuer, tok verified) (*Principal, error) {
	td, err := spiffeTrustDomain(tok.subject)
	if err != nil {
		return nil, problem.Unauthorized("identity token's sub: %v", err)
	}
	if td != conf.SPIFFETrustDomain {
		return nil, problem.Unauthorized("identity token's SPIFFE ID %q is not in the trust domain %q", tok.subject, conf.SPIFFETrustDomain)
	}
	u, err := absoluteURI(tok.subject)
	if err != nil {
		return nil, err
	}
	return &Principal{Issuer: tok.issuer, URI: u, Extensions: plainExtensions(tok.issuer, tok.subject)}, nil
}

// chainguardPrincipal certifies <issuer>/<sub> (Fulcio's chainguard-identity
// type). The proof of possession signs the verified email when the token
// has one, else sub, as cosign computes it (issuerTypes), so an email
// claim must be a string and, when not empty, verified.
func chainguardPrincipal(_ Issuer, tok verified) (*Principal, error) {
	base, err := url.Parse(tok.issuer)
	if err != nil {
		return nil, problem.Unauthorized("identity token issuer %q is not a URL", tok.issuer)
	}
	if _, ok := tok.kinds["email"]; ok {
		if err := requireString(tok.kinds, tok.claims, "email", "proof-of-possession challenge"); err != nil {
			return nil, err
		}
	}
	if email := tok.claims["email"]; email != "" && !emailVerified(tok.raw) {
		return nil, problem.Unauthorized("identity token's email %q is not verified (email_verified is not true)", email)
	}
	return &Principal{
		Issuer: tok.issuer, URI: base.JoinPath(tok.subject),
		Extensions: plainExtensions(tok.issuer, tok.subject),
	}, nil
}

// emailVerified reports whether the token's email_verified claim is true:
// the JSON boolean true, or the string "true" or "True" as some issuers
// (Amazon Cognito) send it. This is exactly what Fulcio v1.8.8 accepts
// (oauthflow.stringAsBool); anything else, a missing claim included, is
// not verified.
func emailVerified(raw map[string]any) bool {
	switch v := raw["email_verified"].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "True"
	}
	return false
}

// isEmail reports whether s is a bare email address (no display name).
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != ""
}

// lookupPath reads the claim an issuer-claim names (a claim name or a
// $.a.b path) as a string.
func lookupPath(raw map[string]any, expr string) (string, bool) {
	keys, err := claimPath(expr)
	if err != nil {
		return "", false
	}
	return nested(raw, keys...)
}

// nested walks JSON objects by keys and returns the string it reaches;
// any other kind of value is not found.
func nested(raw map[string]any, keys ...string) (string, bool) {
	var v any = raw
	for _, k := range keys {
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = obj[k]; !ok {
			return "", false
		}
	}
	s, ok := v.(string)
	return s, ok
}
