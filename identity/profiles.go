package identity

import (
	_ "embed"
	"fmt"
	"maps"

	"go.yaml.in/yaml/v3"
)

// Names of the CI profiles signet ships, as Fulcio names them.
const (
	ProfileGitHubWorkflow    = "github-workflow"
	ProfileGitLabPipeline    = "gitlab-pipeline"
	ProfileBuildkiteJob      = "buildkite-job"
	ProfileCircleCIJob       = "circleci-job"
	ProfileCodefreshWorkflow = "codefresh-workflow"
)

//go:embed profiles.yaml
var profilesYAML []byte

// shipped holds the embedded profiles, parsed and checked once.
var shipped = mustParseProfiles(profilesYAML)

func mustParseProfiles(b []byte) map[string]IssuerMetadata {
	var doc struct {
		Metadata map[string]IssuerMetadata `yaml:"ci-issuer-metadata"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		panic(fmt.Sprintf("identity: embedded profiles.yaml: %v", err))
	}
	for name, md := range doc.Metadata {
		if err := md.validate(); err != nil {
			panic(fmt.Sprintf("identity: embedded profile %q: %v", name, err))
		}
	}
	return doc.Metadata
}

// ShippedProfiles lists the names of the embedded CI profiles, sorted.
func ShippedProfiles() []string { return sortedKeys(shipped) }

// ShippedProfile returns a copy of an embedded CI profile.
func ShippedProfile(name string) (IssuerMetadata, bool) {
	md, ok := shipped[name]
	md.DefaultTemplateValues = maps.Clone(md.DefaultTemplateValues)
	return md, ok
}

// Profile resolves a CI profile by name: the config's own
// ci-issuer-metadata entry, else the shipped one.
func (c Config) Profile(name string) (IssuerMetadata, bool) {
	if md, ok := c.CIIssuerMetadata[name]; ok {
		md.DefaultTemplateValues = maps.Clone(md.DefaultTemplateValues)
		return md, true
	}
	return ShippedProfile(name)
}
