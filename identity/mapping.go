package identity

import (
	"fmt"
	"maps"
	"net/url"

	"github.com/signet-dev/signet/keyless/problem"
	"github.com/sigstore/fulcio/pkg/certificate"
)

// principalFor maps verified claims to a Principal by the issuer's type.
func principalFor(cfg Config, conf Issuer, issuer, subject string, claims map[string]string) (*Principal, error) {
	switch conf.Type {
	case TypeEmail:
		return emailPrincipal(conf, issuer, subject, claims)
	case TypeGitHubWorkflow:
		return ciPrincipal(conf, githubMetadata(issuer, IssuerMetadata{}, false), issuer, subject, claims)
	case TypeCIProvider:
		md, ok := cfg.CIIssuerMetadata[conf.CIProvider]
		if conf.CIProvider == TypeGitHubWorkflow {
			md = githubMetadata(issuer, md, ok)
		}
		return ciPrincipal(conf, md, issuer, subject, claims)
	}
	return nil, fmt.Errorf("identity: issuer type %q has no mapping", conf.Type)
}

// githubMetadata returns the github-workflow profile for issuer: the
// configured one when given, else Fulcio's; with the base URL derived from
// the issuer, so GHE.com and Enterprise Server identities name their host.
func githubMetadata(issuer string, configured IssuerMetadata, ok bool) IssuerMetadata {
	base, known := GitHubBaseURL(issuer)
	if !known {
		base = gitHubDotCom
	}
	if !ok {
		return GitHubWorkflowMetadata(base)
	}
	if known {
		configured.DefaultTemplateValues = maps.Clone(configured.DefaultTemplateValues)
		if configured.DefaultTemplateValues == nil {
			configured.DefaultTemplateValues = map[string]string{}
		}
		configured.DefaultTemplateValues["url"] = base
	}
	return configured
}

func challengeOf(conf Issuer, fallback string, claims map[string]string) (string, error) {
	if conf.ChallengeClaim == "" {
		return fallback, nil
	}
	v := claims[conf.ChallengeClaim]
	if v == "" {
		return "", problem.Unauthorized("identity token lacks the challenge claim %q", conf.ChallengeClaim)
	}
	return v, nil
}

func ciPrincipal(conf Issuer, md IssuerMetadata, issuer, subject string, claims map[string]string) (*Principal, error) {
	san, err := render(md.SubjectAlternativeNameTemplate, claims, md.DefaultTemplateValues)
	if err != nil {
		return nil, problem.Unauthorized("identity token cannot be mapped to a certificate identity: subject alternative name: %v", err)
	}
	u, err := url.Parse(san)
	if err != nil || u.Scheme == "" {
		return nil, problem.Unauthorized("identity token maps to %q, which is not an absolute URI", san)
	}
	exts, err := renderExtensions(md.ExtensionTemplates, claims, md.DefaultTemplateValues)
	if err != nil {
		return nil, problem.Unauthorized("identity token cannot be mapped to a certificate identity: %v", err)
	}
	exts.Issuer = issuer
	exts.Subject = subject
	challenge, err := challengeOf(conf, subject, claims)
	if err != nil {
		return nil, err
	}
	return &Principal{Issuer: issuer, Subject: subject, Challenge: challenge, URI: u, Extensions: exts, Claims: claims}, nil
}

func emailPrincipal(conf Issuer, issuer, subject string, claims map[string]string) (*Principal, error) {
	email := claims["email"]
	if email == "" {
		return nil, problem.Unauthorized("identity token has no email claim")
	}
	if !conf.SkipEmailVerification && claims["email_verified"] != "true" {
		return nil, problem.Unauthorized("identity token's email %q is not verified (email_verified is not true)", email)
	}
	if conf.IssuerClaim != "" {
		issuer = claims[conf.IssuerClaim]
		if issuer == "" {
			return nil, problem.Unauthorized("identity token lacks the issuer claim %q", conf.IssuerClaim)
		}
	}
	challenge, err := challengeOf(conf, email, claims)
	if err != nil {
		return nil, err
	}
	return &Principal{
		Issuer: issuer, Subject: subject, Challenge: challenge, Email: email,
		Extensions: certificate.Extensions{Issuer: issuer}, Claims: claims,
	}, nil
}
