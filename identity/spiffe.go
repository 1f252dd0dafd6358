package identity

import (
	"errors"
	"fmt"
	"strings"
)

// maxTrustDomainLen is the SPIFFE limit on a trust domain name.
const maxTrustDomainLen = 255

// validTrustDomain checks a SPIFFE trust domain name: lowercase letters,
// digits, dots, dashes and underscores.
func validTrustDomain(td string) error {
	if td == "" {
		return errors.New("trust domain is empty")
	}
	if len(td) > maxTrustDomainLen {
		return fmt.Errorf("trust domain is over %d characters", maxTrustDomainLen)
	}
	for _, c := range td {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("trust domain %q holds %q: only lowercase letters, digits, '.', '-' and '_' are allowed", td, c)
		}
	}
	return nil
}

// spiffeTrustDomain parses a SPIFFE ID (spiffe://<trust domain>[/<path>])
// by the SPIFFE ID specification and returns its trust domain.
func spiffeTrustDomain(id string) (string, error) {
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		return "", fmt.Errorf("%q is not a SPIFFE ID: it must start with spiffe://", id)
	}
	td, path, hasPath := strings.Cut(rest, "/")
	if err := validTrustDomain(td); err != nil {
		return "", fmt.Errorf("%q is not a SPIFFE ID: %w", id, err)
	}
	if !hasPath {
		return td, nil
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%q is not a SPIFFE ID: empty, '.' or '..' path segment", id)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return "", fmt.Errorf("%q is not a SPIFFE ID: path holds %q", id, c)
			}
		}
	}
	return td, nil
}
