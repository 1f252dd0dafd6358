package bundle_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/fulcio/pkg/certificate"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/tsa"
)

const (
	san    = "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v1"
	issuer = "https://token.actions.example"
)

// identity embeds a URI SAN and the issuer extension.
type identity struct{}

func (identity) Embed(c *x509.Certificate) error {
	u, err := url.Parse(san)
	if err != nil {
		return err
	}
	c.URIs = []*url.URL{u}
	exts, err := certificate.Extensions{Issuer: issuer}.Render()
	if err != nil {
		return err
	}
	c.ExtraExtensions = append(c.ExtraExtensions, exts...)
	return nil
}

// stack is a CA and a TSA and the trusted root over them. It runs on the
// wall clock: sigstore-go checks each timestamp's CMS signing-time, which
// digitorus/pkcs7 writes from time.Now, against the TSA certificate.
type stack struct {
	issuer *ca.Issuer
	tsa    *tsa.Authority
	root   []byte
}

func newStack(t *testing.T) *stack {
	t.Helper()
	now := testclock.WallNow()
	caKey, err := ca.NewMemoryCA(t.Context(), "Acme", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.NewIssuer(caKey, 10*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	tsaKey, err := tsa.NewDevChain("Acme", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := tsa.New(tsa.Options{Key: tsaKey})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := bundle.TrustedRoot([]bundle.Authority{{URI: "https://signet.example", Chain: caKey.Chain}},
		[]bundle.Authority{{URI: "https://signet.example/api/v1/timestamp", Chain: tsaKey.Chain}})
	if err != nil {
		t.Fatal(err)
	}
	return &stack{issuer: iss, tsa: auth, root: tr}
}

// sign certifies a fresh key, signs what, timestamps the signature.
func (s *stack) sign(t *testing.T, what []byte) (bundle.Timestamped, []byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := s.issuer.Issue(t.Context(), key.Public(), identity{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(what)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := s.tsa.TimestampSignature(t.Context(), sig)
	if err != nil {
		t.Fatal(err)
	}
	return bundle.Timestamped{Leaf: leaf, Timestamps: [][]byte{ts}}, sig, key
}

func TestMessageSignatureBundleVerifies(t *testing.T) {
	s := newStack(t)
	artifact := []byte("release v1\n")
	ts, sig, _ := s.sign(t, artifact)
	digest := sha256.Sum256(artifact)
	b, err := bundle.Marshal(bundle.NewMessageSignature(ts, protocommon.HashAlgorithm_SHA2_256, digest[:], sig))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil || doc["mediaType"] != bundle.MediaType || bytes.Contains(b, []byte("\n")) {
		t.Fatalf("bundle is not one line of v0.3 JSON: %v %s", err, b)
	}
	if bytes.Contains(b, []byte("x509CertificateChain")) {
		t.Error("a v0.3 bundle must carry the leaf only, not x509CertificateChain")
	}
	res, err := bundle.Verify(b, s.root, bytes.NewReader(artifact), bundle.Identity{SAN: san, Issuer: issuer})
	if err != nil {
		t.Fatalf("sigstore-go refuses the bundle: %v", err)
	}
	if len(res.VerifiedTimestamps) != 1 {
		t.Errorf("verified timestamps = %d, want 1", len(res.VerifiedTimestamps))
	}
	leaf, err := bundle.LeafCertificate(b)
	if err != nil || !leaf.Equal(ts.Leaf) {
		t.Errorf("LeafCertificate = %v, %v", leaf, err)
	}
	for _, tc := range []struct {
		name     string
		artifact string
		want     bundle.Identity
	}{
		{"tampered artifact", "release v2\n", bundle.Identity{SAN: san, Issuer: issuer}},
		{"other SAN", string(artifact), bundle.Identity{SAN: san + "x", Issuer: issuer}},
		{"other issuer", string(artifact), bundle.Identity{SAN: san, Issuer: "https://evil.example"}},
	} {
		if _, err := bundle.Verify(b, s.root, strings.NewReader(tc.artifact), tc.want); err == nil {
			t.Errorf("%s: verified", tc.name)
		}
	}
	if _, err := bundle.Verify(b, newStack(t).root, bytes.NewReader(artifact), bundle.Identity{SAN: san, Issuer: issuer}); err == nil {
		t.Error("verified against another server's trusted root")
	}
}

func TestDSSEBundleVerifies(t *testing.T) {
	s := newStack(t)
	subject := []byte("binary")
	d := sha256.Sum256(subject)
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"binary","digest":{"sha256":"` +
		hex.EncodeToString(d[:]) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	ts, sig, _ := s.sign(t, dsse.PAE(bundle.InTotoPayloadType, stmt))
	b, err := bundle.Marshal(bundle.NewDSSE(ts, bundle.InTotoPayloadType, stmt, sig, ""))
	if err != nil {
		t.Fatal(err)
	}
	res, err := bundle.Verify(b, s.root, bytes.NewReader(subject), bundle.Identity{SANRegexp: "^https://github.com/acme/", Issuer: issuer})
	if err != nil {
		t.Fatalf("sigstore-go refuses the DSSE bundle: %v", err)
	}
	if res.Statement.GetPredicateType() != "https://slsa.dev/provenance/v1" {
		t.Errorf("predicate type %q", res.Statement.GetPredicateType())
	}
	if _, err := bundle.Verify(b, s.root, strings.NewReader("other"), bundle.Identity{SANRegexp: ".*", Issuer: issuer}); err == nil {
		t.Error("a DSSE bundle verified for a subject its statement does not name")
	}
}

func TestTrustedRootAndSigningConfig(t *testing.T) {
	now := testclock.Now()
	old, err := ca.NewMemoryCA(t.Context(), "Acme", now.Add(-48*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ca.NewMemoryCA(t.Context(), "Acme", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	tsaKey, err := tsa.NewDevChain("Acme", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	until := now.Add(-time.Hour).Truncate(time.Second)
	tr, err := bundle.TrustedRoot(
		[]bundle.Authority{{URI: "https://s.example", Chain: old.Chain, ValidUntil: until}, {URI: "https://s.example", Chain: cur.Chain}},
		[]bundle.Authority{{URI: "https://s.example/api/v1/timestamp", Chain: tsaKey.Chain}})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MediaType              string `json:"mediaType"`
		CertificateAuthorities []struct {
			Subject  struct{ Organization string }
			ValidFor struct{ Start, End string }
		} `json:"certificateAuthorities"`
		Tlogs []any `json:"tlogs"`
	}
	if err := json.Unmarshal(tr, &doc); err != nil {
		t.Fatal(err)
	}
	parsed, err := root.NewTrustedRootFromJSON(tr)
	switch {
	case err != nil:
		t.Fatalf("sigstore-go refuses the trusted root: %v", err)
	case doc.MediaType != "application/vnd.dev.sigstore.trustedroot+json;version=0.1":
		t.Errorf("media type %q", doc.MediaType)
	case len(doc.CertificateAuthorities) != 2 || doc.CertificateAuthorities[0].Subject.Organization != "Acme":
		t.Errorf("certificate authorities %+v", doc.CertificateAuthorities)
	case doc.CertificateAuthorities[0].ValidFor.End != until.UTC().Format(time.RFC3339):
		t.Errorf("rotated-out chain ends %q, want %s", doc.CertificateAuthorities[0].ValidFor.End, until.UTC().Format(time.RFC3339))
	case doc.CertificateAuthorities[1].ValidFor.End != "":
		t.Errorf("current chain has an end: %q", doc.CertificateAuthorities[1].ValidFor.End)
	case len(parsed.TimestampingAuthorities()) != 1 || len(doc.Tlogs) != 0:
		t.Errorf("want one TSA and no logs")
	}
	if _, err := bundle.TrustedRoot([]bundle.Authority{{URI: "x"}}, nil); err == nil {
		t.Error("an authority without certificates was accepted")
	}

	sc, err := bundle.SigningConfig("https://s.example", "https://s.example/api/v1/timestamp", "s.example", now)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := root.NewSigningConfigFromJSON(sc)
	if err != nil {
		t.Fatalf("sigstore-go refuses the signing config: %v", err)
	}
	if got := cfg.FulcioCertificateAuthorityURLs(); len(got) != 1 || got[0].URL != "https://s.example" {
		t.Errorf("CA URLs %+v", got)
	}
	if got := cfg.TimestampAuthorityURLs(); len(got) != 1 || got[0].URL != "https://s.example/api/v1/timestamp" {
		t.Errorf("TSA URLs %+v", got)
	}
	if len(cfg.RekorLogURLs()) != 0 {
		t.Error("the signing config names a transparency log")
	}
}

func TestHashAlgorithm(t *testing.T) {
	for name, ok := range map[string]bool{"SHA2_256": true, "SHA2_384": true, "SHA2_512": true, "HASH_ALGORITHM_UNSPECIFIED": false, "MD5": false, "": false} {
		if _, got := bundle.HashAlgorithm(name); got != ok {
			t.Errorf("HashAlgorithm(%q) ok = %v, want %v", name, got, ok)
		}
	}
}
