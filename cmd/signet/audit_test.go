package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/fulcio/pkg/certificate"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/issuancelog/audit"
	"github.com/signet-dev/signet/test/testclock"
)

// auditOrigin is the origin of the tests' logs.
const auditOrigin = "signet.test/log"

// auditCA issues small Fulcio-style test certificates.
type auditCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	leaf *ecdsa.PrivateKey // one subject key for every leaf
}

// newAuditCA makes a self-signed CA valid around testclock.Now.
func newAuditCA(t *testing.T) *auditCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := testclock.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "audit test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	return &auditCA{cert: createCert(t, tmpl, tmpl, &key.PublicKey, key), key: key, leaf: leaf}
}

// createCert signs tmpl with parent's key and parses the result.
func createCert(t *testing.T, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// issue makes a leaf for san (an email address when it has an @, else a
// URI) carrying the Fulcio OIDC issuer extension.
func (ca *auditCA) issue(t *testing.T, san, issuer string) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	exts, err := certificate.Extensions{Issuer: issuer}.Render()
	if err != nil {
		t.Fatal(err)
	}
	now := testclock.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: now, NotAfter: now.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: exts,
	}
	if strings.Contains(san, "@") {
		tmpl.EmailAddresses = []string{san}
	} else {
		u, err := url.Parse(san)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	return createCert(t, tmpl, ca.cert, &ca.leaf.PublicKey, ca.key)
}

// bundleFile writes a message-signature bundle whose leaf is cert and
// returns its path.
func (ca *auditCA) bundleFile(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	digest := sha256.Sum256([]byte("artifact " + cert.SerialNumber.String()))
	sig, err := ecdsa.SignASN1(rand.Reader, ca.leaf, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Marshal(bundle.NewMessageSignature(bundle.Timestamped{Leaf: cert}, protocommon.HashAlgorithm_SHA2_256, digest[:], sig))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "artifact.sigstore.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testLog is a real issuance log served as signet serves it.
type testLog struct {
	l      *issuancelog.Log
	dir    string
	server string       // the signet server's URL
	hc     *http.Client // a client of the server
}

// newTestLog opens a log signed by s in a new directory and serves it
// under /api/v1/log/; both stop when the test ends.
func newTestLog(t *testing.T, s issuancelog.Signer) *testLog {
	t.Helper()
	dir := t.TempDir()
	cfg := issuancelog.Config{Type: issuancelog.TypePOSIX, Dir: dir, Origin: auditOrigin, CheckpointInterval: issuancelog.MinCheckpointInterval}
	l, err := issuancelog.Open(t.Context(), cfg, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("closing the log: %v", err)
		}
	})
	mux := http.NewServeMux()
	mux.Handle(logPath+"/", http.StripPrefix(logPath, l.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testLog{l: l, dir: dir, server: srv.URL, hc: srv.Client()}
}

// append logs the certificates in order and waits for a checkpoint that
// covers them.
func (tl *testLog) append(t *testing.T, key string, certs ...*x509.Certificate) {
	t.Helper()
	var last uint64
	for _, c := range certs {
		idx, err := tl.l.Append(t.Context(), c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		last = idx
	}
	c, err := audit.New(tl.server+logPath, key, tl.hc)
	if err != nil {
		t.Fatal(err)
	}
	for range 500 {
		if cp, err := c.Checkpoint(t.Context()); err == nil && cp.Size > last {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no checkpoint covering entry %d within 10s", last)
}

// newSigner makes a checkpoint key named auditOrigin.
func newSigner(t *testing.T) issuancelog.Signer {
	t.Helper()
	s, _, err := issuancelog.GenerateKey(rand.Reader, auditOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runAudit runs `signet audit args...` in-process, as main does (no usage
// or error printed on failure), and returns its stdout.
func runAudit(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := auditCommand()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	t.Logf("signet audit %s\nstdout:\n%sstderr:\n%serror: %v", strings.Join(args, " "), out.String(), errOut.String(), err)
	return out.String(), err
}

// TestAuditVerify follows a growing log twice, from the server and from a
// copy of its directory, then fails on a wrong key and on a forked log.
func TestAuditVerify(t *testing.T) {
	s := newSigner(t)
	tl := newTestLog(t, s)
	ca := newAuditCA(t)
	tl.append(t, s.VerifierKey(), ca.issue(t, "alice@example.com", "https://issuer.example"), ca.issue(t, "bob@example.com", "https://issuer.example"))
	state := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "log.pub")
	if err := os.WriteFile(keyFile, []byte("  "+s.VerifierKey()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := runAudit(t, "verify", "--server", tl.server, "--log-key", s.VerifierKey(), "--state", state)
	if err != nil || !strings.HasPrefix(out, auditOrigin+": size 2, root ") || !strings.HasSuffix(out, ", first checkpoint\n") {
		t.Fatalf("first verify = %q, %v", out, err)
	}
	tl.append(t, s.VerifierKey(), ca.issue(t, "carol@example.com", "https://issuer.example"))
	out, err = runAudit(t, "verify", "--server", tl.server+"/", "--log-key", keyFile, "--state", state)
	if err != nil || !strings.HasPrefix(out, auditOrigin+": size 3, root ") || !strings.HasSuffix(out, ", consistent with 2\n") {
		t.Fatalf("second verify = %q, %v", out, err)
	}
	out, err = runAudit(t, "verify", "--server", tl.dir, "--log-key", keyFile, "--state", state)
	if err != nil || !strings.HasSuffix(out, ", consistent with 3\n") {
		t.Fatalf("offline verify = %q, %v", out, err)
	}

	other := newSigner(t)
	if _, err := runAudit(t, "verify", "--server", tl.server, "--log-key", other.VerifierKey(), "--state", state); err == nil ||
		!strings.Contains(err.Error(), "not signed by the pinned log key") {
		t.Errorf("verify with another key = %v, want a refusal naming the key", err)
	}
	if _, err := runAudit(t, "verify", "--server", tl.server, "--log-key", filepath.Join(t.TempDir(), "missing"), "--state", state); err == nil ||
		!strings.Contains(err.Error(), "neither a note verifier key") {
		t.Errorf("verify with a missing key file = %v", err)
	}

	// The same key signing another history: a fork.
	fork := newTestLog(t, s)
	fork.append(t, s.VerifierKey(), ca.issue(t, "mallory@example.com", "https://issuer.example"), ca.issue(t, "eve@example.com", "https://issuer.example"),
		ca.issue(t, "trent@example.com", "https://issuer.example"), ca.issue(t, "oscar@example.com", "https://issuer.example"))
	_, err = runAudit(t, "verify", "--server", fork.server, "--log-key", s.VerifierKey(), "--state", state)
	var ee *exitError
	if !errors.Is(err, audit.ErrInconsistent) || !strings.Contains(err.Error(), "log verification failed") || !errors.As(err, &ee) || ee.code != 4 {
		t.Errorf("verify of a forked log = %v, want ErrInconsistent and exit status 4", err)
	}
}

// searchEntries runs `audit search` and decodes its JSON lines, checking
// that each has exactly the documented fields.
func searchEntries(t *testing.T, args ...string) ([]audit.Entry, error) {
	t.Helper()
	out, err := runAudit(t, append([]string{"search"}, args...)...)
	var entries []audit.Entry
	for line := range strings.Lines(out) {
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("search printed %q: %v", line, err)
		}
		for _, k := range []string{"index", "serial", "san", "issuer", "not_before"} {
			if _, ok := fields[k]; !ok || len(fields) != 5 {
				t.Errorf("search line %q lacks %q or has extra fields", line, k)
			}
		}
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	return entries, err
}

// sansOf lists the SANs of entries, in order.
func sansOf(entries []audit.Entry) []string {
	sans := make([]string, 0, len(entries))
	for _, e := range entries {
		sans = append(sans, e.SAN)
	}
	return sans
}

// TestAuditSearch filters by identity, issuer, serial and index, and
// alerts with exit status 3 on an identity outside --not-identity.
func TestAuditSearch(t *testing.T) {
	s := newSigner(t)
	tl := newTestLog(t, s)
	ca := newAuditCA(t)
	const gh, other = "https://token.actions.githubusercontent.com", "https://gitlab.com"
	wf := "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
	certs := []*x509.Certificate{
		ca.issue(t, "alice@example.com", gh),
		ca.issue(t, wf, gh),
		ca.issue(t, "mallory@evil-example.com.attacker.net", other),
		ca.issue(t, "bob@example.com", gh),
	}
	tl.append(t, s.VerifierKey(), certs...)
	common := []string{"--server", tl.server, "--log-key", s.VerifierKey()}
	search := func(args ...string) ([]audit.Entry, error) {
		t.Helper()
		return searchEntries(t, append(common, args...)...)
	}

	all, err := search()
	if err != nil || len(all) != 4 {
		t.Fatalf("search = %v, %v; want all 4", sansOf(all), err)
	}
	for i, e := range all {
		if e.Index != uint64(i) || e.Serial != certs[i].SerialNumber.Text(16) || !e.NotBefore.Equal(certs[i].NotBefore) {
			t.Errorf("entry %d = %+v, want certificate %d", i, e, i)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--identity", `@example\.com$`}, "alice@example.com bob@example.com"},
		{[]string{"--identity", `example\.com`}, "alice@example.com mallory@evil-example.com.attacker.net bob@example.com"}, // unanchored
		{[]string{"--issuer", other}, "mallory@evil-example.com.attacker.net"},
		{[]string{"--serial", strings.ToUpper(certs[1].SerialNumber.Text(16))}, wf},
		{[]string{"--since", "2", "--issuer", gh}, "bob@example.com"},
		{[]string{"--since", "4"}, ""},
	} {
		got, err := search(tc.args...)
		if err != nil || strings.Join(sansOf(got), " ") != tc.want {
			t.Errorf("search %v = %v, %v; want %s", tc.args, sansOf(got), err, tc.want)
		}
	}

	// A --since beyond the log: rolled back, or an old checkpoint replayed.
	var ee *exitError
	if _, err := search("--since", "9"); !errors.As(err, &ee) || ee.code != 4 || !strings.Contains(err.Error(), "fewer than the 9 already searched") {
		t.Errorf("search --since 9 of a log of 4 = %v, want exit status 4 naming the rollback", err)
	}
	got, err := search("--not-identity", `^([a-z]+@example\.com|https://github\.com/acme/.*)$`)
	if !errors.As(err, &ee) || ee.code != 3 || strings.Join(sansOf(got), " ") != "mallory@evil-example.com.attacker.net" || got[0].Index != 2 {
		t.Errorf("search --not-identity = %v, %v; want mallory's entry 2 and exit status 3", sansOf(got), err)
	}
	if got, err := search("--not-identity", `@example\.com$|^https://github\.com/acme/`, "--issuer", gh); err != nil || len(got) != 0 {
		t.Errorf("search --not-identity with nothing unexpected = %v, %v; want nothing and no error", sansOf(got), err)
	}
	if _, err := search("--identity", "("); err == nil || !strings.Contains(err.Error(), "--identity") {
		t.Errorf("search with a bad regexp = %v", err)
	}
}

// TestAuditProve proves a bundle whose certificate is in the log, waiting
// for its checkpoint, and fails for one whose certificate is not.
func TestAuditProve(t *testing.T) {
	s := newSigner(t)
	tl := newTestLog(t, s)
	ca := newAuditCA(t)
	tl.append(t, s.VerifierKey(), ca.issue(t, "alice@example.com", "https://issuer.example"))
	logged := ca.issue(t, "bob@example.com", "https://issuer.example")
	if _, err := tl.l.Append(t.Context(), logged.Raw); err != nil {
		t.Fatal(err)
	}
	// No wait for a checkpoint: prove waits for one covering entry 1.
	out, err := runAudit(t, "prove", "--server", tl.server, "--log-key", s.VerifierKey(), "--bundle", ca.bundleFile(t, logged), "--wait", "10s")
	if err != nil || !strings.Contains(out, "certificate "+logged.SerialNumber.Text(16)+" is entry 1, proven in checkpoint of size 2, root ") {
		t.Fatalf("prove = %q, %v", out, err)
	}

	stranger := ca.issue(t, "carol@example.com", "https://issuer.example")
	_, err = runAudit(t, "prove", "--server", tl.server, "--log-key", s.VerifierKey(), "--bundle", ca.bundleFile(t, stranger), "--wait", "300ms")
	if !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("prove of a certificate not in the log = %v, want ErrNotFound", err)
	}
	if _, err := runAudit(t, "prove", "--server", tl.server, "--log-key", s.VerifierKey()); err == nil || !strings.Contains(err.Error(), "bundle") {
		t.Errorf("prove without --bundle = %v", err)
	}
}
