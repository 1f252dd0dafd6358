package identity

import (
	"net/url"
	"strings"

	"github.com/sigstore/fulcio/pkg/certificate"
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
	case strings.HasPrefix(host, "token.actions.") && strings.HasSuffix(host, ".ghe.com"):
		return u.Scheme + "://" + strings.TrimPrefix(host, "token.actions."), true
	case strings.TrimSuffix(u.Path, "/") == "/_services/token":
		return u.Scheme + "://" + u.Host, true
	}
	return "", false
}

// GitHubWorkflowMetadata is Fulcio's github-workflow CI profile with the
// given base URL: the SAN and every extension as Fulcio maps a GitHub
// Actions token.
func GitHubWorkflowMetadata(base string) IssuerMetadata {
	return IssuerMetadata{
		DefaultTemplateValues: map[string]string{"url": base, "environment": ""},
		ExtensionTemplates: certificate.Extensions{
			GithubWorkflowTrigger:               "event_name",
			GithubWorkflowSHA:                   "sha",
			GithubWorkflowName:                  "workflow",
			GithubWorkflowRepository:            "repository",
			GithubWorkflowRef:                   "ref",
			BuildSignerURI:                      "{{ .url }}/{{ .job_workflow_ref }}",
			BuildSignerDigest:                   "job_workflow_sha",
			RunnerEnvironment:                   "runner_environment",
			SourceRepositoryURI:                 "{{ .url }}/{{ .repository }}",
			SourceRepositoryDigest:              "sha",
			SourceRepositoryRef:                 "ref",
			SourceRepositoryIdentifier:          "repository_id",
			SourceRepositoryOwnerURI:            "{{ .url }}/{{ .repository_owner }}",
			SourceRepositoryOwnerIdentifier:     "repository_owner_id",
			BuildConfigURI:                      "{{ .url }}/{{ .workflow_ref }}",
			BuildConfigDigest:                   "workflow_sha",
			BuildTrigger:                        "event_name",
			RunInvocationURI:                    "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}",
			SourceRepositoryVisibilityAtSigning: "repository_visibility",
			DeploymentEnvironment:               "environment",
		},
		SubjectAlternativeNameTemplate: "{{ .url }}/{{ .job_workflow_ref }}",
	}
}
