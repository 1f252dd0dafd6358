package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewStatement(t *testing.T) {
	sum := sha256.Sum256([]byte("artifact"))
	subject := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a.tgz","digest":{"sha256":"` +
		hex.EncodeToString(sum[:]) + `"}}],`
	for _, tc := range []struct {
		name, predicateType, predicate string
		want, wantErr                  string
	}{
		{name: "SLSA provenance, compacted", predicateType: SLSAProvenanceV1,
			predicate: "{\n  \"buildDefinition\": {\"buildType\": \"x\"}\n}",
			want:      subject + `"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"x"}}}`},
		{name: "empty object", predicateType: "https://example.com/p/v1", predicate: `{}`,
			want: subject + `"predicateType":"https://example.com/p/v1","predicate":{}}`},
		{name: "array", predicateType: SLSAProvenanceV1, predicate: `[]`, wantErr: "predicate is not a JSON object"},
		{name: "null", predicateType: SLSAProvenanceV1, predicate: `null`, wantErr: "predicate is not a JSON object: null"},
		{name: "truncated", predicateType: SLSAProvenanceV1, predicate: `{"a":`, wantErr: "predicate is not a JSON object"},
		{name: "no type", predicateType: "", predicate: `{}`, wantErr: "--type must name the predicate type"},
		{name: "cosign's short name", predicateType: "slsaprovenance1", predicate: `{}`, wantErr: `--type "slsaprovenance1" is not a predicate type URI`},
		{name: "a relative URI", predicateType: "/provenance/v1", predicate: `{}`, wantErr: "is not a predicate type URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newStatement("a.tgz", sum[:], tc.predicateType, []byte(tc.predicate))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("statement\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
