package devissuer

import (
	"crypto/sha1"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"strings"
)

// GitHubClaims returns a complete, realistic GitHub Actions claim set for
// repository "owner/repo" (e.g. "acme/widgets") as github.com issues it for
// a push to main running the workflow .github/workflows/release.yml:
// sub "repo:acme/widgets:ref:refs/heads/main", aud "sigstore", the actor,
// run, repository and workflow claims, numbers as strings like GitHub sends
// them. iss, iat, nbf, exp and jti are not set; Mint fills them.
//
// Values are deterministic: the same repository always gets the same ids
// and commit SHA. A repository without a slash is taken as its own owner.
func GitHubClaims(repository string) map[string]any {
	owner, _, _ := strings.Cut(repository, "/")
	const ref = "refs/heads/main"
	workflowRef := repository + "/.github/workflows/release.yml@" + ref
	sha := fakeSHA(repository)
	ownerID := fakeID("owner:"+owner, 1_000_000, 99_000_000)
	return map[string]any{
		"sub":                   "repo:" + repository + ":ref:" + ref,
		"aud":                   "sigstore",
		"actor":                 owner,
		"actor_id":              ownerID,
		"event_name":            "push",
		"ref":                   ref,
		"ref_type":              "branch",
		"sha":                   sha,
		"repository":            repository,
		"repository_id":         fakeID("repository:"+repository, 100_000_000, 900_000_000),
		"repository_owner":      owner,
		"repository_owner_id":   ownerID,
		"repository_visibility": "public",
		"run_id":                fakeID("run:"+repository, 10_000_000_000, 9_000_000_000),
		"run_number":            "42",
		"run_attempt":           "1",
		"runner_environment":    "github-hosted",
		"workflow":              "Release",
		"workflow_ref":          workflowRef,
		"workflow_sha":          sha,
		"job_workflow_ref":      workflowRef,
		"job_workflow_sha":      sha,
		"head_ref":              "",
		"base_ref":              "",
	}
}

// fakeSHA returns a 40-hex-digit commit SHA derived from seed.
func fakeSHA(seed string) string {
	sum := sha1.Sum([]byte("commit:" + seed))
	return hex.EncodeToString(sum[:])
}

// fakeID returns a decimal id in [base, base+span) derived from seed.
func fakeID(seed string, base, span uint64) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(seed)) // hash.Hash never returns an error
	return strconv.FormatUint(base+h.Sum64()%span, 10)
}
