// Package provision sets up signet's keys and certificate chains in Vault:
// the transit keys of the root, the CA and the TSA, the chains in KV, and
// their rotation (`signet ca init`, `signet ca import-chain`). It runs with
// an administrator's credentials; a serving replica never needs it. It
// sits above ca, tsa and ca/vault because it builds both the CA and the
// TSA certificates.
package provision

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/tsa"
)

// InitOptions configures Init; the zero value is a self-contained setup.
type InitOptions struct {
	// Org is the single O of every certificate; default "signet".
	Org string
	// KeyType is the transit key type of new keys: ecdsa-p384 (the default,
	// Fulcio's production intermediate curve) or ecdsa-p256.
	KeyType string
	// RootKey, CAKey and TSAKey name the transit keys; defaults
	// signet-root, signet-ca and signet-tsa.
	RootKey, CAKey, TSAKey string
	// CAChainPath and TSAChainPath are the KV paths of the chains;
	// defaults signet/ca-chain and signet/tsa-chain.
	CAChainPath, TSAChainPath string
	// ExternalRoot makes CSRs for an offline root to sign, for the CA key
	// and the TSA key, instead of certifying them with a root key in Vault
	// (none is made).
	ExternalRoot bool
	// Rotate makes new CA and TSA key versions and chains for them.
	Rotate bool
	// NoTSA leaves the TSA alone: its key lives elsewhere (a memory or
	// file key beside a Vault CA).
	NoTSA bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *InitOptions) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Org, "signet")
	def(&o.KeyType, "ecdsa-p384")
	def(&o.RootKey, "signet-root")
	def(&o.CAKey, "signet-ca")
	def(&o.TSAKey, "signet-tsa")
	def(&o.CAChainPath, "signet/ca-chain")
	def(&o.TSAChainPath, "signet/tsa-chain")
	if o.Now == nil {
		o.Now = time.Now
	}
}

// KeyRef names a transit key version and the KV path of its chain.
type KeyRef struct {
	Key       string
	Version   int
	ChainPath string
}

// InitResult says what Init set up.
type InitResult struct {
	// CA and TSA are the keys and chains to configure.
	CA, TSA KeyRef
	// CACSR and TSACSR are PEM CSRs for the offline root, with
	// ExternalRoot, for the keys whose chains are still to be made; the
	// chains are stored later by ImportChain and ImportTSAChain.
	CACSR, TSACSR []byte
	// Changed reports whether anything in Vault was created or changed.
	Changed bool
}

// Init bootstraps the transit keys and certificate chains of signet's CA
// and TSA. Run again, it changes nothing unless opts.Rotate is set.
func Init(ctx context.Context, c *vault.Client, o InitOptions) (*InitResult, error) {
	o.applyDefaults()
	if o.KeyType != "ecdsa-p384" && o.KeyType != "ecdsa-p256" {
		return nil, fmt.Errorf("provision: key type %q is not ecdsa-p384 (the default) or ecdsa-p256", o.KeyType)
	}
	if err := c.EnsureEngines(ctx); err != nil {
		return nil, err
	}
	caStored, caOK, err := c.ReadChain(ctx, o.CAChainPath)
	if err != nil {
		return nil, err
	}
	var tsaStored *vault.StoredChain
	var tsaOK bool
	if !o.NoTSA {
		if tsaStored, tsaOK, err = c.ReadChain(ctx, o.TSAChainPath); err != nil {
			return nil, err
		}
	}
	res := &InitResult{CA: KeyRef{Key: o.CAKey, ChainPath: o.CAChainPath}, TSA: KeyRef{Key: o.TSAKey, ChainPath: o.TSAChainPath}}
	if caOK && (tsaOK || o.NoTSA) && !o.Rotate {
		for _, stored := range []struct {
			path, key string
			sc        *vault.StoredChain
		}{{o.CAChainPath, o.CAKey, caStored}, {o.TSAChainPath, o.TSAKey, tsaStored}} {
			if stored.sc == nil {
				continue // NoTSA
			}
			if err := chainFitsKey(ctx, c, stored.path, stored.key, stored.sc); err != nil {
				return nil, err
			}
		}
		res.CA.Version = caStored.Version
		if tsaOK {
			res.TSA.Version = tsaStored.Version
		}
		return res, nil
	}
	res.Changed = true
	now := o.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	if o.ExternalRoot {
		legacy, err := underVaultRoot(ctx, c, o.RootKey, tsaStored)
		if err != nil {
			return nil, err
		}
		if !legacy {
			return res, initForOfflineRoot(ctx, c, o, res, caOK, tsaOK)
		}
	}
	if !o.ExternalRoot {
		if err := refusePendingOfflineRoot(ctx, c, o, caOK, tsaOK); err != nil {
			return nil, err
		}
		// A chain under an offline root rotates with ExternalRoot; refuse
		// before making a root key in Vault it would never use.
		for _, stored := range []struct {
			path string
			sc   *vault.StoredChain
			ok   bool
		}{{o.CAChainPath, caStored, caOK}, {o.TSAChainPath, tsaStored, tsaOK}} {
			if !stored.ok {
				continue
			}
			inVault, err := underVaultRoot(ctx, c, o.RootKey, stored.sc)
			if err != nil {
				return nil, err
			}
			if !inVault {
				return nil, sameRoot(stored.path, stored.sc, nil)
			}
		}
	}
	rootVer, err := c.EnsureKey(ctx, o.RootKey, o.KeyType, false)
	if err != nil {
		return nil, err
	}
	rootSigner, err := vault.NewSigner(ctx, c, o.RootKey, rootVer)
	if err != nil {
		return nil, err
	}
	root, err := rootCertificate(ctx, o, rootSigner, now, caStored, tsaStored)
	if err != nil {
		return nil, err
	}
	// Every chain written below must end at the root its path already
	// ends at (replicas trust one root per chain): refuse before any key
	// is rotated.
	if caOK && !o.ExternalRoot {
		if err := sameRoot(o.CAChainPath, caStored, root); err != nil {
			return nil, err
		}
	}
	if tsaOK {
		if err := sameRoot(o.TSAChainPath, tsaStored, root); err != nil {
			return nil, err
		}
	}
	if !root.NotAfter.After(now.AddDate(0, 0, 30)) {
		return nil, fmt.Errorf("provision: the root %q expires at %s: certificates made under it now would not outlive it by long; make a new root (a new root key) and distribute it to verifiers", root.Subject, root.NotAfter.UTC().Format(time.RFC3339))
	}
	if res.CA.Version, err = c.EnsureKey(ctx, o.CAKey, o.KeyType, o.Rotate && caOK); err != nil {
		return nil, err
	}
	caSigner, err := vault.NewSigner(ctx, c, o.CAKey, res.CA.Version)
	if err != nil {
		return nil, err
	}
	if o.ExternalRoot {
		if res.CACSR, err = csrFor(ctx, o.Org, o.Org+" intermediate", caSigner); err != nil {
			return nil, err
		}
	} else if !caOK || o.Rotate {
		tmpl, err := ca.IntermediateTemplate(o.Org, o.Org+" intermediate", now, within(root, now.AddDate(5, 0, 0)))
		if err != nil {
			return nil, err
		}
		inter, err := pki.CreateCertificate(ctx, tmpl, root, caSigner.Public(), rootSigner)
		if err != nil {
			return nil, err
		}
		if err := c.WriteChain(ctx, o.CAChainPath, vault.StoredChain{Key: o.CAKey, Version: res.CA.Version, Chain: []*x509.Certificate{inter, root}}); err != nil {
			return nil, err
		}
	}
	if o.NoTSA {
		return res, nil
	}
	if res.TSA.Version, err = c.EnsureKey(ctx, o.TSAKey, o.KeyType, o.Rotate && tsaOK); err != nil {
		return nil, err
	}
	if tsaOK && !o.Rotate {
		return res, nil
	}
	tsaSigner, err := vault.NewSigner(ctx, c, o.TSAKey, res.TSA.Version)
	if err != nil {
		return nil, err
	}
	tmpl, err := tsa.LeafTemplate(o.Org, o.Org+" timestamping", now, within(root, now.AddDate(10, 0, 0)))
	if err != nil {
		return nil, err
	}
	leaf, err := pki.CreateCertificate(ctx, tmpl, root, tsaSigner.Public(), rootSigner)
	if err != nil {
		return nil, err
	}
	return res, c.WriteChain(ctx, o.TSAChainPath, vault.StoredChain{Key: o.TSAKey, Version: res.TSA.Version, Chain: []*x509.Certificate{leaf, root}})
}

// within caps notAfter at the root's own, so that a certificate made
// under a reused root never outlives it.
func within(root *x509.Certificate, notAfter time.Time) time.Time {
	if notAfter.After(root.NotAfter) {
		return root.NotAfter
	}
	return notAfter
}

// rootCertificate reuses the root of an existing chain when the root key
// is unchanged, else makes a new self-signed root with the Vault root key.
func rootCertificate(ctx context.Context, o InitOptions, rootSigner *vault.Signer, now time.Time, stored ...*vault.StoredChain) (*x509.Certificate, error) {
	for _, sc := range stored {
		if sc != nil {
			r := sc.Chain[len(sc.Chain)-1]
			if pki.SamePublicKey(r.PublicKey, rootSigner.Public()) {
				return r, nil
			}
		}
	}
	tmpl, err := pki.RootTemplate(o.Org, o.Org+" root", now, now.AddDate(20, 0, 0))
	if err != nil {
		return nil, err
	}
	return pki.CreateCertificate(ctx, tmpl, nil, rootSigner.Public(), rootSigner)
}

// chainFitsKey checks a chain that a rerun leaves as it is: it is for the
// transit key the configuration names, and its first certificate
// certifies that key's recorded version, so that "unchanged" never
// reports a setup no replica could start with (a key deleted and made
// again under the same name, or a chain path shared by another key).
func chainFitsKey(ctx context.Context, c *vault.Client, path, key string, sc *vault.StoredChain) error {
	if sc.Key != key {
		return fmt.Errorf("provision: the chain at %s is for transit key %q, not %q", path, sc.Key, key)
	}
	signer, err := vault.NewSigner(ctx, c, sc.Key, sc.Version)
	if err != nil {
		return fmt.Errorf("provision: the chain at %s: %w", path, err)
	}
	if !pki.SamePublicKey(sc.Chain[0].PublicKey, signer.Public()) {
		return fmt.Errorf("provision: the chain at %s certifies another key than transit key %s version %d (was the key deleted and made again?); "+
			"rotate with --rotate, or restore the key", path, sc.Key, sc.Version)
	}
	return nil
}

// sameRoot refuses to write under root a chain path whose stored chain
// ends at another root.
// A nil root is a root key missing from Vault.
func sameRoot(path string, stored *vault.StoredChain, root *x509.Certificate) error {
	if old := stored.Chain[len(stored.Chain)-1]; root == nil || !old.Equal(root) {
		inVault := "none"
		if root != nil {
			inVault = fmt.Sprintf("%q", root.Subject)
		}
		return fmt.Errorf("provision: the chain at %s ends at root %q, not at the root key in Vault (%s): a deployment under an offline root rotates with --external-root; "+
			"a new root needs new chain paths and verifiers told of it", path, old.Subject, inVault)
	}
	return nil
}

// ImportChain stores a chain signed by an offline root for the CA key: the
// first certificate must certify the given transit key version.
func ImportChain(ctx context.Context, c *vault.Client, ref KeyRef, chain []*x509.Certificate) error {
	signer, err := vault.NewSigner(ctx, c, ref.Key, ref.Version)
	if err != nil {
		return err
	}
	kc := pki.KeyChain{Signer: signer, Chain: chain}
	if err := kc.Check(); err != nil {
		return err
	}
	if !chain[0].IsCA {
		return fmt.Errorf("provision: %q is not a CA certificate", chain[0].Subject)
	}
	if err := ca.CheckCodeSigningChain(chain); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return c.WriteChain(ctx, ref.ChainPath, vault.StoredChain{Key: ref.Key, Version: signer.Version(), Chain: chain})
}
