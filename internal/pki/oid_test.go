package pki_test

import (
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/pki"
)

func TestParseOID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" when refused
	}{
		{"1.3.6.1.4.1.57264.2", "1.3.6.1.4.1.57264.2"},
		{"2.999.1", "2.999.1"},
		{"0.39", "0.39"},
		{"", ""},
		{"1", ""},
		{"1..2", ""},
		{"1.3.x", ""},
		{"1.+3", ""},
		{"1.-3", ""},
		{"3.1", ""},
		{"1.40", ""},
		{strings.Repeat("1.", 127) + "1", strings.Repeat("1.", 127) + "1"},
		{strings.Repeat("1.", 128) + "1", ""},
		{"1.3.99999999999", ""},
	} {
		oid, err := pki.ParseOID(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseOID(%q) = %v, want an error", tc.in, oid)
		case tc.want != "" && (err != nil || oid.String() != tc.want):
			t.Errorf("ParseOID(%q) = %v, %v, want %s", tc.in, oid, err, tc.want)
		case err == nil:
			if _, merr := asn1.Marshal(oid); merr != nil {
				t.Errorf("ParseOID(%q) = %v, which does not DER-encode: %v", tc.in, oid, merr)
			}
		}
	}
}
