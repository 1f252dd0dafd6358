package vault

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/api"
	"github.com/signet-dev/signet/ca"
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
	pemChain, _ := s.Data["chain"].(string)
	chain, err := ca.ParseCertificatesPEM([]byte(pemChain))
	if err != nil {
		return nil, false, fmt.Errorf("vault: chain at %s/%s: %w", c.cfg.KVMount, path, err)
	}
	sc = &StoredChain{Chain: chain}
	sc.Key, _ = s.Data["key"].(string)
	if v, ok := s.Data["key_version"].(float64); ok {
		sc.Version = int(v)
	} else if n, ok := s.Data["key_version"].(interface{ Int64() (int64, error) }); ok {
		v, _ := n.Int64()
		sc.Version = int(v)
	}
	return sc, true, nil
}

// WriteChain stores a chain at path in the KV v2 mount.
func (c *Client) WriteChain(ctx context.Context, path string, sc StoredChain) error {
	wctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	_, err := c.api.KVv2(c.cfg.KVMount).Put(wctx, path, map[string]any{
		"chain":       string(ca.EncodeCertificatesPEM(sc.Chain)),
		"key":         sc.Key,
		"key_version": sc.Version,
	})
	if err != nil {
		return classify(wctx, "write chain "+path, err, c.cfg)
	}
	return nil
}

// KeyChain loads a transit-backed key chain: the chain stored at
// chainPath, signed by the pinned version of transit key name. It refuses,
// naming both, when the key in Vault is not the key of the chain.
func (c *Client) KeyChain(ctx context.Context, name string, version int, chainPath string) (ca.KeyChain, error) {
	sc, ok, err := c.ReadChain(ctx, chainPath)
	if err != nil {
		return ca.KeyChain{}, err
	}
	if !ok {
		return ca.KeyChain{}, fmt.Errorf("vault: no certificate chain at %s/%s: run `signet ca init --backend vault`", c.cfg.KVMount, chainPath)
	}
	if version == 0 {
		version = sc.Version
	}
	signer, err := NewSigner(ctx, c, name, version)
	if err != nil {
		return ca.KeyChain{}, err
	}
	if !ca.SamePublicKey(signer.Public(), sc.Chain[0].PublicKey) {
		return ca.KeyChain{}, fmt.Errorf("vault: transit key %s version %d is not the key of certificate %q stored at %s/%s: the chain and the key differ (rotated without a new chain?)",
			name, version, sc.Chain[0].Subject, c.cfg.KVMount, chainPath)
	}
	kc := ca.KeyChain{Signer: signer, Chain: sc.Chain}
	if err := kc.Check(); err != nil {
		return ca.KeyChain{}, err
	}
	return kc, nil
}
