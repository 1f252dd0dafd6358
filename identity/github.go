package identity

import (
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
