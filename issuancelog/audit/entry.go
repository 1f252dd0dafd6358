package audit

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/sigstore/fulcio/pkg/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Entry describes one certificate of the log.
type Entry struct {
	// Index is the entry's position in the log.
	Index uint64 `json:"index"`
	// Serial is the certificate's serial number in lower-case hex.
	Serial string `json:"serial"`
	// SAN is the certificate's subject alternative name (its identity);
	// the first one when there are several.
	SAN string `json:"san"`
	// OtherSANs are the further SANs, which a Fulcio-style certificate
	// does not have.
	OtherSANs []string `json:"other_sans,omitempty"`
	// Issuer is the OIDC issuer in the Fulcio extension 1.3.6.1.4.1.57264.1.8
	// (or its deprecated predecessor .1.1).
	Issuer string `json:"issuer"`
	// NotBefore is the start of the certificate's validity.
	NotBefore time.Time `json:"not_before"`
	// Error says why the entry is not a readable certificate; the other
	// fields are then empty.
	Error string `json:"error,omitempty"`
}

// parseEntry describes the log entry at index, a certificate's DER.
func parseEntry(index uint64, der []byte) Entry {
	e := Entry{Index: index}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		e.Error = fmt.Sprintf("not a certificate: %v", err)
		return e
	}
	e.Serial = cert.SerialNumber.Text(16)
	e.NotBefore = cert.NotBefore.UTC()
	if sans := cryptoutils.GetSubjectAlternateNames(cert); len(sans) > 0 {
		e.SAN, e.OtherSANs = sans[0], sans[1:]
	}
	ext, err := certificate.ParseExtensions(cert.Extensions)
	if err != nil {
		e.Error = fmt.Sprintf("unreadable Fulcio extensions: %v", err)
		return e
	}
	e.Issuer = ext.Issuer
	return e
}

// sans returns all of e's SANs.
func (e Entry) sans() []string {
	if e.SAN == "" {
		return nil
	}
	return append([]string{e.SAN}, e.OtherSANs...)
}

// Filter selects entries; its zero value selects all. An entry that is not
// a readable certificate (Entry.Error set) is always selected, whatever the
// filter: what it holds cannot be told, and a log must not be able to hide
// a certificate from a monitor by corrupting it.
type Filter struct {
	// Identity keeps entries with a SAN it matches (regexp.MatchString:
	// anchor it with ^ and $ to match whole names).
	Identity *regexp.Regexp
	// NotIdentity keeps entries with a SAN it does not match, or with no
	// SAN: the certificates a team did not expect, to alert on.
	NotIdentity *regexp.Regexp
	// Issuer keeps entries of exactly this OIDC issuer URL.
	Issuer string
	// Serial keeps the entry of this serial number, in hex (upper or
	// lower case, with or without 0x or colons).
	Serial string
}

// matcher is a Filter ready to apply.
type matcher struct {
	f      Filter
	serial *big.Int
}

func (f Filter) compile() (matcher, error) {
	m := matcher{f: f}
	if f.Serial != "" {
		s := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(f.Serial), "0x"), ":", "")
		n, ok := new(big.Int).SetString(s, 16)
		if !ok {
			return m, fmt.Errorf("serial %q is not a hex number", f.Serial)
		}
		m.serial = n
	}
	return m, nil
}

// match reports whether e passes every condition of the filter, or is
// not readable.
func (m matcher) match(e Entry) bool {
	if e.Error != "" {
		return true
	}
	sans := e.sans()
	if m.f.Identity != nil && !anyMatch(m.f.Identity, sans) {
		return false
	}
	if m.f.NotIdentity != nil && len(sans) > 0 && allMatch(m.f.NotIdentity, sans) {
		return false
	}
	if m.f.Issuer != "" && e.Issuer != m.f.Issuer {
		return false
	}
	if m.serial != nil {
		n, ok := new(big.Int).SetString(e.Serial, 16)
		if !ok || n.Cmp(m.serial) != 0 {
			return false
		}
	}
	return true
}

func anyMatch(re *regexp.Regexp, ss []string) bool {
	for _, s := range ss {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func allMatch(re *regexp.Regexp, ss []string) bool {
	for _, s := range ss {
		if !re.MatchString(s) {
			return false
		}
	}
	return true
}
