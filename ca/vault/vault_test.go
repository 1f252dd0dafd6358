package vault_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/test/vaultdev"
)

// TestMain fails the package when a client's renewal goroutines outlive
// Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// connect starts a real Vault dev server and a client with its root token,
// with the transit and KV engines enabled.
func connect(t *testing.T) (*vaultdev.Server, *vault.Client) {
	t.Helper()
	vs := vaultdev.Start(t)
	c, err := vault.Connect(t.Context(), vault.Config{Address: vs.Addr, Auth: vault.Auth{Token: vs.RootToken}, Timeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(c.Close)
	if err := c.EnsureEngines(t.Context()); err != nil {
		t.Fatalf("EnsureEngines: %v", err)
	}
	if err := c.EnsureEngines(t.Context()); err != nil {
		t.Fatalf("EnsureEngines again: %v", err)
	}
	return vs, c
}

func TestTransitSignerSignsWhatItsPublicKeyVerifies(t *testing.T) {
	_, c := connect(t)
	ctx := t.Context()
	for _, tc := range []struct {
		typ  string
		hash crypto.Hash
	}{
		{"ecdsa-p256", crypto.SHA256},
		{"ecdsa-p384", crypto.SHA384},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			name := "test-" + tc.typ
			v1, err := c.EnsureKey(ctx, name, tc.typ, false)
			if err != nil || v1 != 1 {
				t.Fatalf("EnsureKey = %d, %v; want version 1", v1, err)
			}
			if again, err := c.EnsureKey(ctx, name, tc.typ, false); err != nil || again != 1 {
				t.Fatalf("EnsureKey again = %d, %v; want 1 unchanged", again, err)
			}
			v2, err := c.EnsureKey(ctx, name, tc.typ, true)
			if err != nil || v2 != 2 {
				t.Fatalf("EnsureKey with rotate = %d, %v; want 2", v2, err)
			}
			if _, err := c.EnsureKey(ctx, name, "ed25519", false); err == nil || !strings.Contains(err.Error(), "not ed25519") {
				t.Errorf("EnsureKey of another type: %v", err)
			}
			for _, version := range []int{1, 2} {
				s, err := vault.NewSigner(ctx, c, name, version)
				if err != nil {
					t.Fatal(err)
				}
				digest := digestOf(tc.hash, []byte("message"))
				sig, err := s.SignDigest(ctx, digest, tc.hash)
				if err != nil {
					t.Fatalf("SignDigest v%d: %v", version, err)
				}
				if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest, sig) {
					t.Errorf("v%d: the signature does not verify with the pinned version's public key", version)
				}
				if s.Version() != version || s.KeyName() != name {
					t.Errorf("signer pins %s v%d, want %s v%d", s.KeyName(), s.Version(), name, version)
				}
			}
			if _, err := vault.NewSigner(ctx, c, name, 9); err == nil || !strings.Contains(err.Error(), "no version 9") {
				t.Errorf("NewSigner of a missing version: %v", err)
			}
		})
	}
	if _, err := vault.NewSigner(ctx, c, "absent", 0); err == nil || !strings.Contains(err.Error(), "signet ca init") {
		t.Errorf("NewSigner of a missing key: %v", err)
	}
}

func TestChainsInKV(t *testing.T) {
	_, c := connect(t)
	ctx := t.Context()
	if _, err := c.EnsureKey(ctx, "ca", "ecdsa-p384", false); err != nil {
		t.Fatal(err)
	}
	signer, err := vault.NewSigner(ctx, c, "ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	chain := root.chainFor(t, signer)
	if _, ok, err := c.ReadChain(ctx, "signet/ca-chain"); ok || err != nil {
		t.Fatalf("ReadChain of nothing = %v, %v", ok, err)
	}
	if err := c.WriteChain(ctx, "signet/ca-chain", vault.StoredChain{Key: "ca", Version: 1, Chain: chain}); err != nil {
		t.Fatal(err)
	}
	sc, ok, err := c.ReadChain(ctx, "signet/ca-chain")
	if err != nil || !ok || sc.Key != "ca" || sc.Version != 1 || len(sc.Chain) != 2 || !sc.Chain[0].Equal(chain[0]) {
		t.Fatalf("ReadChain = %+v, %v, %v", sc, ok, err)
	}
	kc, err := c.KeyChain(ctx, "ca", 1, "signet/ca-chain")
	if err != nil {
		t.Fatalf("KeyChain: %v", err)
	}
	if err := kc.Check(); err != nil {
		t.Errorf("the loaded key chain does not check: %v", err)
	}
	// A chain that names another key is refused, naming both.
	if _, err := c.EnsureKey(ctx, "other", "ecdsa-p384", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeyChain(ctx, "other", 1, "signet/ca-chain"); err == nil || !strings.Contains(err.Error(), "other") {
		t.Errorf("KeyChain over another key's chain: %v", err)
	}
	// Rotation: the history lists the replaced chain with its period.
	if _, err := c.EnsureKey(ctx, "ca", "ecdsa-p384", true); err != nil {
		t.Fatal(err)
	}
	signer2, err := vault.NewSigner(ctx, c, "ca", 2)
	if err != nil {
		t.Fatal(err)
	}
	chain2 := root.chainFor(t, signer2)
	if err := c.WriteChain(ctx, "signet/ca-chain", vault.StoredChain{Key: "ca", Version: 2, Chain: chain2}); err != nil {
		t.Fatal(err)
	}
	history, err := c.ChainHistory(ctx, "signet/ca-chain")
	if err != nil || len(history) != 2 {
		t.Fatalf("ChainHistory = %d periods, %v", len(history), err)
	}
	var past []vault.ChainPeriod
	for _, p := range history {
		if !p.Until.IsZero() {
			past = append(past, p)
		}
	}
	if len(past) != 1 || !past[0].Chain[0].Equal(chain[0]) {
		t.Fatalf("past chains = %+v", past)
	}
	if err := c.CheckHistory(ctx, "ca", past, chain2); err != nil {
		t.Errorf("CheckHistory of an honest rotation: %v", err)
	}
	rogue := root.chainFor(t, pki.LocalSigner{Key: mustKey(t)})
	if err := c.CheckHistory(ctx, "ca", []vault.ChainPeriod{{Chain: rogue, Until: past[0].Until}}, chain2); err == nil {
		t.Error("CheckHistory trusted a chain for a key that is no version of the transit key")
	}
}

func TestSealedVaultIsUnavailable(t *testing.T) {
	vs, c := connect(t)
	ctx := t.Context()
	if _, err := c.EnsureKey(ctx, "k", "ecdsa-p256", false); err != nil {
		t.Fatal(err)
	}
	s, err := vault.NewSigner(ctx, c, "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if err := vs.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"Ready":      s.Ready(ctx),
		"SignDigest": func() error { _, err := s.SignDigest(ctx, make([]byte, 32), crypto.SHA256); return err }(),
	} {
		if problem.StatusOf(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "sealed") {
			t.Errorf("%s on a sealed Vault: %v (status %d), want 503 naming the seal", what, err, problem.StatusOf(err))
		}
		if strings.Contains(err.Error(), vs.Addr) || strings.Contains(err.Error(), "/v1/") {
			t.Errorf("%s: the error names Vault's address or path: %v", what, err)
		}
	}
	if err := vs.Unseal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitReady(ctx, s); err != nil {
		t.Errorf("not ready after unseal: %v", err)
	}
}

func waitReady(ctx context.Context, s *vault.Signer) error {
	var err error
	for range 50 {
		if err = s.Ready(ctx); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// testRoot is a root CA in memory that certifies transit keys.
type testRoot struct {
	cert *x509.Certificate
	key  pki.LocalSigner
}

func newRoot(t *testing.T) testRoot {
	t.Helper()
	now := testclock.WallNow() // Vault-side checks run on the wall clock
	key := pki.LocalSigner{Key: mustKey(t)}
	tmpl, err := pki.RootTemplate("Acme", "Acme root", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.CreateCertificate(t.Context(), tmpl, nil, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return testRoot{cert: cert, key: key}
}

// chainFor makes an intermediate for signer's key under the root.
func (r testRoot) chainFor(t *testing.T, signer pki.KeySigner) []*x509.Certificate {
	t.Helper()
	now := testclock.WallNow()
	tmpl, err := ca.IntermediateTemplate("Acme", "Acme intermediate", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	inter, err := pki.CreateCertificate(t.Context(), tmpl, r.cert, signer.Public(), r.key)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{inter, r.cert}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func digestOf(h crypto.Hash, b []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(b)
		return d[:]
	}
	d := sha256.Sum256(b)
	return d[:]
}
