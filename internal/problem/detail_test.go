package problem

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestParseDetail: the real errors of encoding/json, encoding/asn1 and
// crypto/x509 on bad input are described without Go type, package or
// struct names, and still say what was wrong with the input.
func TestParseDetail(t *testing.T) {
	type inner struct {
		Content string `json:"content"`
		Raw     []byte `json:"raw"`
	}
	type request struct {
		Key  inner `json:"publicKey"`
		Size int   `json:"size"`
	}
	decode := func(body string) error { var r request; return json.Unmarshal([]byte(body), &r) }
	asn1Err := func() error {
		var v struct{ A, B int }
		_, err := asn1.Unmarshal([]byte{0x61, 0x01, 0x00}, &v)
		return err
	}
	csrErr := func() error { _, err := x509.ParseCertificateRequest([]byte{0x30, 0x03, 0x02, 0x01, 0x01}); return err }
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"syntax", decode(`{"size":`), "invalid JSON at byte 8: unexpected end of JSON input"},
		{"syntax mid-document", decode(`{"size" 1}`), "invalid JSON at byte 9: invalid character '1' after object key"},
		{"whole document of the wrong kind", decode(`[1]`), "expected a JSON object, got array"},
		{"nested field of the wrong kind", decode(`{"publicKey":{"content":5}}`), `field "publicKey.content": expected a JSON string, got number`},
		{"bytes field", decode(`{"publicKey":{"raw":{}}}`), `field "publicKey.raw": expected a JSON base64 string, got object`},
		{"number field", decode(`{"size":"x"}`), `field "size": expected a JSON number, got string`},
		{"base64", decode(`{"publicKey":{"raw":"!!"}}`), "illegal base64 data at input byte 0"},
		{"asn1", asn1Err(), "malformed DER"},
		{"x509 over asn1", csrErr(), "malformed DER"},
		{"other messages pass", errors.New("trailing data in Time-Stamp request"), "trailing data in Time-Stamp request"},
		{"nil", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseDetail(tt.err)
			if got != tt.want {
				t.Errorf("ParseDetail(%v) = %q, want %q", tt.err, got, tt.want)
			}
			for _, internal := range []string{"Go ", "problem.", "struct", "inner", "{optional", "asn1:"} {
				if strings.Contains(got, internal) {
					t.Errorf("ParseDetail(%v) = %q names %q", tt.err, got, internal)
				}
			}
		})
	}
	var b64 base64.CorruptInputError = 3
	if got := ParseDetail(b64); got != "illegal base64 data at input byte 3" {
		t.Errorf("ParseDetail(base64) = %q", got)
	}
}

// TestClip: text over the limit is cut on a rune boundary and marked.
func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer text", 8, "a longer..."},
		{"ab\u00e9cd", 3, "ab..."}, // é is two bytes: not cut in half
		{strings.Repeat("x", 100), 64, strings.Repeat("x", 64) + "..."},
	} {
		if got := Clip(tt.in, tt.limit); got != tt.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
	if got := Truncate(strings.Repeat("y", 65)); got != strings.Repeat("y", 64)+"..." {
		t.Errorf("Truncate cuts at %d bytes, want 64", len(got)-3)
	}
}
