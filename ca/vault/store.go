package vault

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/signet-dev/signet/internal/pki"
)

// StoredChain is a certificate chain kept in Vault KV with the transit key
// it certifies.
type StoredChain struct {
	// Key is the transit key name.
	Key string
	// Version is the transit key version the chain's first certificate is for.
	Version int
	// Chain is the key's certificate first, the root last.
	Chain []*x509.Certificate
}

// ReadChain reads the chain stored at path in the KV v2 mount; ok is
// false when nothing is stored there.
func (c *Client) ReadChain(ctx context.Context, path string) (sc *StoredChain, ok bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	s, err := c.api.KVv2(c.cfg.KVMount).Get(rctx, path)
	if errors.Is(err, api.ErrSecretNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, classify(rctx, "read chain "+path, err, c.cfg)
	}
	sc, err = storedChain(s.Data)
	if err != nil {
		return nil, false, fmt.Errorf("vault: chain at %s/%s: %w", c.cfg.KVMount, path, err)
	}
	return sc, true, nil
}

func storedChain(data map[string]any) (*StoredChain, error) {
	pemChain, _ := data["chain"].(string)
	chain, err := pki.ParseCertificatesPEM([]byte(pemChain))
	if err != nil {
		return nil, err
	}
	sc := &StoredChain{Chain: chain}
	sc.Key, _ = data["key"].(string)
	if v, ok := data["key_version"].(float64); ok {
		sc.Version = int(v)
	} else if n, ok := data["key_version"].(interface{ Int64() (int64, error) }); ok {
		v, _ := n.Int64()
		sc.Version = int(v)
	}
	return sc, nil
}

// ChainPeriod is a chain and the period it was the current one.
type ChainPeriod struct {
	// Chain is the key's certificate first, the root last.
	Chain []*x509.Certificate
	// From is when the chain was stored.
	From time.Time
	// Until is when the next chain replaced it; zero for the current one.
	Until time.Time
}

// ChainHistory returns every chain stored at path, oldest first, each with
// the period it was current, from the KV v2 version history. Chains that
// a rotation replaced stay in the trusted root for the period they issued
// in, so bundles signed before a rotation keep verifying.
func (c *Client) ChainHistory(ctx context.Context, path string) ([]ChainPeriod, error) {
	kv := c.api.KVv2(c.cfg.KVMount)
	lctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	versions, err := kv.GetVersionsAsList(lctx, path)
	cancel()
	if err != nil {
		return nil, classify(lctx, "list chain versions of "+path, err, c.cfg)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i].Version < versions[j].Version })
	var out []ChainPeriod
	for _, v := range versions {
		if v.Destroyed || !v.DeletionTime.IsZero() {
			continue
		}
		// Each read has its own deadline: a long history is many reads.
		hctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		s, err := kv.GetVersion(hctx, path, v.Version)
		cancel()
		if err != nil {
			return nil, classify(hctx, fmt.Sprintf("read chain %s version %d", path, v.Version), err, c.cfg)
		}
		sc, err := storedChain(s.Data)
		if err != nil {
			return nil, fmt.Errorf("vault: chain at %s/%s version %d: %w", c.cfg.KVMount, path, v.Version, err)
		}
		if n := len(out); n > 0 {
			if sameChain(out[n-1].Chain, sc.Chain) {
				continue
			}
			out[n-1].Until = v.CreatedTime
		}
		out = append(out, ChainPeriod{Chain: sc.Chain, From: v.CreatedTime})
	}
	return out, nil
}

// CheckHistory refuses rotated-out chains that could smuggle a foreign CA
// into the trusted root through KV alone: each must verify link by link,
// end at the current root, and certify a version of transit key name.
func (c *Client) CheckHistory(ctx context.Context, name string, history []ChainPeriod, current []*x509.Certificate) error {
	info, ok, err := c.ReadKey(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("vault: transit key %s does not exist", name)
	}
	root := current[len(current)-1]
	for i, p := range history {
		if len(p.Chain) == 0 || !p.Chain[len(p.Chain)-1].Equal(root) {
			return fmt.Errorf("vault: stored chain %d (from %s) does not end at the current root: refusing to trust it", i+1, p.From.Format(time.RFC3339))
		}
		for j := 0; j+1 < len(p.Chain); j++ {
			if err := p.Chain[j].CheckSignatureFrom(p.Chain[j+1]); err != nil {
				return fmt.Errorf("vault: stored chain %d (from %s) does not verify: %w", i+1, p.From.Format(time.RFC3339), err)
			}
		}
		known := false
		for _, pub := range info.Public {
			known = known || pki.SamePublicKey(pub, p.Chain[0].PublicKey)
		}
		if !known {
			return fmt.Errorf("vault: stored chain %d (from %s) certifies a key that is no version of transit key %s: refusing to trust it", i+1, p.From.Format(time.RFC3339), name)
		}
	}
	return nil
}

func sameChain(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// chainVersionsKept is how many versions of a chain path KV keeps: every
// rotated-out chain stays in the trusted root (bundles signed under it
// must keep verifying), and KV v2 would delete all but the last 10.
const chainVersionsKept = 10000

// WriteChain stores a chain at path in the KV v2 mount as its next
// version, keeping the earlier ones (chainVersionsKept). It refuses a
// chain under another root than the chain stored there: replicas trust
// one root per path (CheckHistory) and would refuse to start. It writes
// with check-and-set on the version it read, so two writers at once
// (two `signet ca init` runs) cannot both write, and it changes only the
// path's max_versions, keeping what an operator set (cas_required,
// custom_metadata).
func (c *Client) WriteChain(ctx context.Context, path string, sc StoredChain) error {
	wctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	kv := c.api.KVv2(c.cfg.KVMount)
	version := 0
	cur, err := kv.Get(wctx, path)
	switch {
	case errors.Is(err, api.ErrSecretNotFound):
	case err != nil:
		return classify(wctx, "read chain "+path, err, c.cfg)
	default:
		if cur.VersionMetadata != nil {
			version = cur.VersionMetadata.Version
		}
		if old, err := storedChain(cur.Data); err == nil {
			oldRoot, newRoot := old.Chain[len(old.Chain)-1], sc.Chain[len(sc.Chain)-1]
			if !oldRoot.Equal(newRoot) {
				return fmt.Errorf("vault: the new chain for %s/%s ends at root %q, the stored one at root %q: replicas trust one root per chain and would refuse it "+
					"(a deployment under an offline root rotates with --external-root; a new root needs new chain paths and verifiers told of it)",
					c.cfg.KVMount, path, newRoot.Subject, oldRoot.Subject)
			}
		}
	}
	if err := c.keepChainVersions(wctx, kv, path); err != nil {
		return err
	}
	_, err = kv.Put(wctx, path, map[string]any{
		"chain":       string(pki.EncodeCertificatesPEM(sc.Chain)),
		"key":         sc.Key,
		"key_version": sc.Version,
	}, api.WithCheckAndSet(version))
	if err != nil && strings.Contains(err.Error(), "check-and-set") {
		return fmt.Errorf("vault: chain %s/%s changed while signet wrote it (another `signet ca init` at the same time?): run it again", c.cfg.KVMount, path)
	}
	if err != nil {
		return classify(wctx, "write chain "+path, err, c.cfg)
	}
	return nil
}

// keepChainVersions sets path's max_versions to chainVersionsKept,
// leaving the rest of its metadata as it is.
func (c *Client) keepChainVersions(ctx context.Context, kv *api.KVv2, path string) error {
	meta, err := kv.GetMetadata(ctx, path)
	switch {
	case errors.Is(err, api.ErrSecretNotFound):
		err = kv.PutMetadata(ctx, path, api.KVMetadataPutInput{MaxVersions: chainVersionsKept})
	case err != nil:
	case meta.MaxVersions != chainVersionsKept:
		n := chainVersionsKept
		err = kv.PatchMetadata(ctx, path, api.KVMetadataPatchInput{MaxVersions: &n})
	}
	if err != nil {
		return classify(ctx, "keep the versions of chain "+path, err, c.cfg)
	}
	return nil
}

// KeyChain loads a transit-backed key chain: the chain stored at
// chainPath, signed by the pinned version of transit key name. It refuses,
// naming both, when the key in Vault is not the key of the chain.
func (c *Client) KeyChain(ctx context.Context, name string, version int, chainPath string) (pki.KeyChain, error) {
	sc, ok, err := c.ReadChain(ctx, chainPath)
	if err != nil {
		return pki.KeyChain{}, err
	}
	if !ok {
		return pki.KeyChain{}, fmt.Errorf("vault: no certificate chain at %s/%s: run `signet ca init --backend vault`", c.cfg.KVMount, chainPath)
	}
	if version == 0 {
		version = sc.Version
	}
	signer, err := NewSigner(ctx, c, name, version)
	if err != nil {
		return pki.KeyChain{}, err
	}
	if !pki.SamePublicKey(signer.Public(), sc.Chain[0].PublicKey) {
		return pki.KeyChain{}, fmt.Errorf("vault: transit key %s version %d is not the key of certificate %q stored at %s/%s: the chain and the key differ (rotated without a new chain?)",
			name, version, sc.Chain[0].Subject, c.cfg.KVMount, chainPath)
	}
	kc := pki.KeyChain{Signer: signer, Chain: sc.Chain}
	if err := kc.Check(); err != nil {
		return pki.KeyChain{}, err
	}
	return kc, nil
}
