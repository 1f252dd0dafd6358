package vault_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/tsa"
	"github.com/sigstore/fulcio/pkg/certificate"
)

// TestKeySwappedInVault: transit keys deleted and made again under the
// same names (so their version 1 is another key) while a CA and a TSA
// have version 1 pinned, batched and not: Ready and Issue answer 503
// naming the changed key at once, and no certificate comes out; the TSA
// (digitorus/timestamp checks nothing itself) refuses within its check
// interval, then refuses every token.
func TestKeySwappedInVault(t *testing.T) {
	vs, batched := connect(t)
	ctx := t.Context()
	unbatched, err := vault.Connect(ctx, vault.Config{Address: vs.Addr, Auth: vault.Auth{Token: vs.RootToken}, NoBatch: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unbatched.Close()
	now := testclock.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl, err := pki.RootTemplate("Acme", "Acme root", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	root, err := pki.CreateCertificate(ctx, rootTmpl, nil, rootKey.Public(), pki.LocalSigner{Key: rootKey})
	if err != nil {
		t.Fatal(err)
	}
	certify := func(tmpl *x509.Certificate, err error, s *vault.Signer) pki.KeyChain {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		c, err := pki.CreateCertificate(ctx, tmpl, root, s.Public(), pki.LocalSigner{Key: rootKey})
		if err != nil {
			t.Fatal(err)
		}
		return pki.KeyChain{Signer: s, Chain: []*x509.Certificate{c, root}}
	}
	type pinned struct {
		ca     *ca.Issuer
		tsa    *tsa.Authority
		signer *vault.Signer
	}
	clock := func() time.Time { return now }
	setups := map[string]pinned{}
	for label, c := range map[string]*vault.Client{"batched": batched, "unbatched": unbatched} {
		for _, name := range []string{"swap-ca-" + label, "swap-tsa-" + label} {
			if _, err := batched.EnsureKey(ctx, name, "ecdsa-p256", false); err != nil {
				t.Fatal(err)
			}
		}
		caSigner, err := vault.NewSigner(ctx, c, "swap-ca-"+label, 1)
		if err != nil {
			t.Fatal(err)
		}
		tsaSigner, err := vault.NewSigner(ctx, c, "swap-tsa-"+label, 1)
		if err != nil {
			t.Fatal(err)
		}
		interTmpl, err := ca.IntermediateTemplate("Acme", "Acme intermediate", now.Add(-time.Hour), now.Add(12*time.Hour))
		iss, err := ca.NewIssuer(certify(interTmpl, err, caSigner), 10*time.Minute, clock)
		if err != nil {
			t.Fatal(err)
		}
		leafTmpl, err := tsa.LeafTemplate("Acme", "Acme TSA", now.Add(-time.Hour), now.Add(12*time.Hour))
		auth, err := tsa.New(tsa.Options{Key: certify(leafTmpl, err, tsaSigner), Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		setups[label] = pinned{ca: iss, tsa: auth, signer: tsaSigner}
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// The identity the certificates are for, embedded as issuance does.
	san, _ := url.Parse("https://github.com/acme/widgets/.github/workflows/release.yml@refs/heads/main")
	releaseWorkflow := &identity.Principal{URI: san, Issuer: "https://token.actions.githubusercontent.com",
		Extensions: certificate.Extensions{Issuer: "https://token.actions.githubusercontent.com"}}
	sig := sha256.Sum256([]byte("a signature to time-stamp"))
	for label, p := range setups {
		if _, err := p.ca.Issue(ctx, leafKey.Public(), releaseWorkflow); err != nil {
			t.Fatalf("%s Issue before the swap: %v", label, err)
		}
		if _, _, err := p.tsa.TimestampSignature(ctx, sig[:]); err != nil {
			t.Fatalf("%s Timestamp before the swap: %v", label, err)
		}
	}

	for label := range setups {
		for _, name := range []string{"swap-ca-" + label, "swap-tsa-" + label} {
			recreate(ctx, t, batched, name)
		}
	}
	for label, p := range setups {
		if cert, err := p.ca.Issue(ctx, leafKey.Public(), releaseWorkflow); problem.StatusOf(err) != 503 || cert != nil ||
			!strings.Contains(err.Error(), "signed with another key than the one this server loaded") {
			t.Errorf("%s Issue after the swap = %v, %v; want 503 and no certificate", label, cert != nil, err)
		}
		// The TSA checks a signature a second (pki.CheckInterval): within
		// about that, a check fails, and from then on every token is
		// refused until the key verifies again.
		refused := false
		for deadline := testclock.WallNow().Add(2*pki.CheckInterval + time.Second); !refused && testclock.WallNow().Before(deadline); time.Sleep(20 * time.Millisecond) {
			_, _, err := p.tsa.TimestampSignature(ctx, sig[:])
			refused = problem.StatusOf(err) == 503 && strings.Contains(err.Error(), "signed with another key than the one this server loaded")
		}
		if !refused {
			t.Errorf("%s: the TSA still signed with the changed key %s after the swap", label, 2*pki.CheckInterval+time.Second)
		}
		for range 3 {
			if tok, _, err := p.tsa.TimestampSignature(ctx, sig[:]); problem.StatusOf(err) != 503 || tok != nil {
				t.Errorf("%s Timestamp once a check failed = %d bytes, %v; want 503 and no token", label, len(tok), err)
			}
		}
		if err := p.signer.Ready(ctx); problem.StatusOf(err) != 503 || !strings.Contains(err.Error(), "no longer the key this server loaded") {
			t.Errorf("%s Ready after the swap = %v, want 503", label, err)
		}
	}
}

// recreate deletes transit key name and makes it again: its version 1 is
// then another key.
func recreate(ctx context.Context, t *testing.T, c *vault.Client, name string) {
	t.Helper()
	admin := c.API().Logical()
	if _, err := admin.WriteWithContext(ctx, "transit/keys/"+name+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.DeleteWithContext(ctx, "transit/keys/"+name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureKey(ctx, name, "ecdsa-p256", false); err != nil {
		t.Fatal(err)
	}
}
