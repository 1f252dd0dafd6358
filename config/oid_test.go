package config_test

import (
	"strings"
	"testing"

	"github.com/signet-dev/signet/config"
)

func TestValidateParsesThePolicyOID(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"tsa: {policy-oid: 1.2.3.4}\n", ""},
		{"tsa: {policy-oid: not-an-oid}\n", `config: tsa.policy-oid: "not-an-oid" is not a dotted OID`},
		{"tsa: {policy-oid: 7.1}\n", "tsa.policy-oid"},
	} {
		c, err := config.Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}
