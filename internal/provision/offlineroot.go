package provision

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/tsa"
)

// initForOfflineRoot is Init under an offline root: no root key in Vault.
// It makes (or, with Rotate, rotates) the CA and TSA keys and a CSR for
// each key whose chain is missing or rotated; the offline root signs them
// and ImportChain and ImportTSAChain store the chains. Until then the
// stored chains, if any, stay in use.
func initForOfflineRoot(ctx context.Context, c *vault.Client, o InitOptions, res *InitResult, caOK, tsaOK bool) error {
	var err error
	if res.CA.Version, err = c.EnsureKey(ctx, o.CAKey, o.KeyType, o.Rotate && caOK); err != nil {
		return err
	}
	if !caOK || o.Rotate {
		if res.CACSR, err = keyCSR(ctx, c, o.CAKey, res.CA.Version, o.Org, o.Org+" intermediate"); err != nil {
			return err
		}
	}
	if o.NoTSA {
		return nil
	}
	if res.TSA.Version, err = c.EnsureKey(ctx, o.TSAKey, o.KeyType, o.Rotate && tsaOK); err != nil {
		return err
	}
	if !tsaOK || o.Rotate {
		if res.TSACSR, err = keyCSR(ctx, c, o.TSAKey, res.TSA.Version, o.Org, o.Org+" timestamping"); err != nil {
			return err
		}
	}
	return nil
}

// refusePendingOfflineRoot refuses a run without ExternalRoot on a setup
// that --external-root began and whose chains are not all imported yet: a
// CA or TSA key without its chain while no root key exists. A run without
// ExternalRoot makes the root key before the others, so an interrupted one
// never leaves that state; this one would put the keys under a new root
// in Vault, and the offline root's chains would then be refused.
func refusePendingOfflineRoot(ctx context.Context, c *vault.Client, o InitOptions, caOK, tsaOK bool) error {
	if _, rootExists, err := c.ReadKey(ctx, o.RootKey); err != nil || rootExists {
		return err
	}
	for _, k := range []struct {
		key     string
		chained bool
	}{{o.CAKey, caOK}, {o.TSAKey, tsaOK || o.NoTSA}} {
		if k.chained {
			continue
		}
		if _, exists, err := c.ReadKey(ctx, k.key); err != nil {
			return err
		} else if exists {
			return fmt.Errorf("provision: transit key %s has no chain yet and no root key %s exists: a setup begun with --external-root, waiting for `signet ca import-chain`; "+
				"rerun with --external-root (or import the chains)", k.key, o.RootKey)
		}
	}
	return nil
}

// underVaultRoot reports whether a stored chain ends at a root certified
// for the root key in Vault. With ExternalRoot, a TSA chain that an
// earlier signet made under that root (before the TSA had a CSR of its
// own) stays under it, since a stored chain never moves to another root.
// Without, chains that are not under it are under an offline root.
func underVaultRoot(ctx context.Context, c *vault.Client, rootKey string, stored *vault.StoredChain) (bool, error) {
	if stored == nil {
		return false, nil
	}
	info, ok, err := c.ReadKey(ctx, rootKey)
	if err != nil || !ok {
		return false, err
	}
	root := stored.Chain[len(stored.Chain)-1]
	for _, pub := range info.Public {
		if pki.SamePublicKey(root.PublicKey, pub) {
			return true, nil
		}
	}
	return false, nil
}

// keyCSR is a PEM CSR for a transit key version, O org and CN cn, signed
// by that key.
func keyCSR(ctx context.Context, c *vault.Client, key string, version int, org, cn string) ([]byte, error) {
	s, err := vault.NewSigner(ctx, c, key, version)
	if err != nil {
		return nil, err
	}
	return csrFor(ctx, org, cn, s)
}

func csrFor(ctx context.Context, org, cn string, s *vault.Signer) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{Organization: []string{org}, CommonName: cn},
	}, pki.Bind(ctx, s))
	if err != nil {
		return nil, fmt.Errorf("provision: CSR for %s: %w", s.KeyName(), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ImportTSAChain stores a chain signed by an offline root for the TSA key:
// the first certificate must certify the given transit key version and the
// chain must be one that timestamp verifiers accept (tsa.New's checks:
// a leaf with the single critical timeStamping usage, valid at now).
func ImportTSAChain(ctx context.Context, c *vault.Client, ref KeyRef, chain []*x509.Certificate, now time.Time) error {
	signer, err := vault.NewSigner(ctx, c, ref.Key, ref.Version)
	if err != nil {
		return err
	}
	if _, err := tsa.New(tsa.Options{Key: pki.KeyChain{Signer: signer, Chain: chain}, Clock: func() time.Time { return now }}); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return c.WriteChain(ctx, ref.ChainPath, vault.StoredChain{Key: ref.Key, Version: signer.Version(), Chain: chain})
}
