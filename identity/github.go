package identity

import (
	"fmt"
	"net/url"
	"strings"
)

// gitHubDotCom is the base URL of github.com identities.
const gitHubDotCom = "https://github.com"

// GitHubBaseURL derives the web base URL of a GitHub Actions issuer, the
// prefix of the SAN and of every URI extension:
//
//	https://token.actions.githubusercontent.com[/<slug>] -> https://github.com
//	https://token.actions.<sub>.ghe.com                  -> https://<sub>.ghe.com
//	https://<host>/_services/token (Enterprise Server)   -> https://<host>
//
// ok is false for an issuer of none of these forms.
func GitHubBaseURL(issuer string) (base string, ok bool) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	switch {
	case host == "token.actions.githubusercontent.com":
		return gitHubDotCom, true
	case gheTenant(host) != "":
		return u.Scheme + "://" + gheTenant(host) + ".ghe.com", true
	case strings.TrimSuffix(u.Path, "/") == "/_services/token":
		return u.Scheme + "://" + u.Host, true
	}
	return "", false
}

// GitHubWorkflowMetadata is Fulcio's github-workflow CI profile with the
// given base URL: the SAN and every extension as Fulcio maps a GitHub
// Actions token.
func GitHubWorkflowMetadata(base string) IssuerMetadata {
	md, _ := ShippedProfile(ProfileGitHubWorkflow)
	md.DefaultTemplateValues["url"] = base
	return md
}

// withGitHubBase sets the `url` default of a github-workflow profile to the
// base URL derived from the issuer, when the issuer has a GitHub form;
// otherwise the profile keeps its own (https://github.com when shipped).
func withGitHubBase(md IssuerMetadata, issuer string) IssuerMetadata {
	base, ok := GitHubBaseURL(issuer)
	if !ok {
		return md
	}
	if md.DefaultTemplateValues == nil {
		md.DefaultTemplateValues = map[string]string{}
	}
	md.DefaultTemplateValues["url"] = base
	return md
}

// gheTenant returns <sub> of a GHE.com issuer host token.actions.<sub>.ghe.com,
// or "" for any other host; <sub> is exactly one DNS label.
func gheTenant(host string) string {
	rest, ok := strings.CutPrefix(host, "token.actions.")
	if !ok {
		return ""
	}
	sub, ok := strings.CutSuffix(rest, ".ghe.com")
	if !ok || sub == "" || strings.Contains(sub, ".") {
		return ""
	}
	return sub
}

// GitHubBaseWarning is an issuer mapped through the github-workflow profile
// whose URL has none of the GitHub forms of GitHubBaseURL: its SAN and URI
// extensions name the profile's base URL (https://github.com when shipped),
// not a host of its own. Useful for a test issuer; otherwise probably a
// mistake, since such certificates claim github.com identities.
type GitHubBaseWarning struct {
	// Issuer is the oidc-issuers URL or meta-issuers pattern.
	Issuer string
	// Via says how the profile was chosen: "is type github-workflow" or
	// "uses ci-provider github-workflow".
	Via string
	// BaseURL is the base its SANs will name.
	BaseURL string
}

// String is the warning as signet logs and prints it.
func (w GitHubBaseWarning) String() string {
	return fmt.Sprintf("issuer %s %s but not a GitHub URL; its SANs will name %s", w.Issuer, w.Via, w.BaseURL)
}

// GitHubBaseWarnings lists the issuers of cfg (oidc-issuers, then
// meta-issuers, each sorted) that are type github-workflow, or type
// ci-provider with the shipped github-workflow profile, and whose URL is
// not a GitHub one.
func GitHubBaseWarnings(cfg Config) []GitHubBaseWarning {
	var out []GitHubBaseWarning
	check := func(key string, iss Issuer) {
		via := "is type github-workflow"
		switch {
		case iss.Type == TypeGitHubWorkflow:
		case iss.Type == TypeCIProvider && iss.CIProvider == ProfileGitHubWorkflow:
			if _, custom := cfg.CIIssuerMetadata[ProfileGitHubWorkflow]; custom {
				return // the operator chose the base URL
			}
			via = "uses ci-provider github-workflow"
		default:
			return
		}
		if _, ok := GitHubBaseURL(strings.ReplaceAll(key, "*", "x")); ok {
			return
		}
		md, _ := cfg.Profile(ProfileGitHubWorkflow)
		base := md.DefaultTemplateValues["url"]
		if base == "" {
			base = "no base URL (the profile has no url default)"
		}
		out = append(out, GitHubBaseWarning{Issuer: key, Via: via, BaseURL: base})
	}
	for _, key := range sortedKeys(cfg.OIDCIssuers) {
		check(key, cfg.OIDCIssuers[key])
	}
	for _, key := range sortedKeys(cfg.MetaIssuers) {
		check(key, cfg.MetaIssuers[key])
	}
	return out
}
