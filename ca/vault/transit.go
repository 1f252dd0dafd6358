package vault

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
)

// write runs a Vault write under the operation deadline, logging in again
// once when Vault refuses a token that a new login can replace.
func (c *Client) write(ctx context.Context, op, path string, data map[string]any) (*api.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	token := c.api.Token()
	s, err := c.api.Logical().WriteWithContext(ctx, path, data)
	if err != nil && isPermissionDenied(err) && c.canRelogin() && c.relogin(ctx, token) == nil {
		s, err = c.api.Logical().WriteWithContext(ctx, path, data)
	}
	if err != nil {
		return nil, classify(ctx, op, err, c.cfg)
	}
	return s, nil
}

// read is write's counterpart for reads.
func (c *Client) read(ctx context.Context, op, path string) (*api.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	token := c.api.Token()
	s, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil && isPermissionDenied(err) && c.canRelogin() && c.relogin(ctx, token) == nil {
		s, err = c.api.Logical().ReadWithContext(ctx, path)
	}
	if err != nil {
		return nil, classify(ctx, op, err, c.cfg)
	}
	return s, nil
}

// KeyInfo describes a transit key.
type KeyInfo struct {
	// Type is the transit key type, e.g. ecdsa-p384.
	Type string
	// Exportable reports whether Vault would release the private key.
	Exportable bool
	// DeletionAllowed reports whether the key can be deleted (and so made
	// again under the same name and versions).
	DeletionAllowed bool
	// Latest is the newest key version.
	Latest int
	// Public maps each version to its public key.
	Public map[int]crypto.PublicKey
}

// ReadKey reads a transit key's public versions; ok is false when the key
// does not exist.
func (c *Client) ReadKey(ctx context.Context, name string) (info *KeyInfo, ok bool, err error) {
	s, err := c.read(ctx, "read transit key "+name, c.cfg.TransitMount+"/keys/"+name)
	if err != nil {
		return nil, false, err
	}
	if s == nil || s.Data == nil {
		return nil, false, nil
	}
	info = &KeyInfo{Public: map[int]crypto.PublicKey{}}
	info.Type, _ = s.Data["type"].(string)
	info.Exportable, _ = s.Data["exportable"].(bool)
	info.DeletionAllowed, _ = s.Data["deletion_allowed"].(bool)
	if n, ok := s.Data["latest_version"].(json.Number); ok {
		v, _ := n.Int64()
		info.Latest = int(v)
	}
	versions, _ := s.Data["keys"].(map[string]any)
	for k, v := range versions {
		ver, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		m, _ := v.(map[string]any)
		pubStr, _ := m["public_key"].(string)
		pub, err := parsePublicKey(info.Type, pubStr)
		if err != nil {
			return nil, false, fmt.Errorf("vault: transit key %s version %d: %w", name, ver, err)
		}
		info.Public[ver] = pub
	}
	return info, true, nil
}

// parsePublicKey parses a transit key version's public_key: PEM (PKIX) for
// ECDSA and RSA keys, the base64 of the raw 32 bytes for ed25519 keys.
func parsePublicKey(typ, s string) (crypto.PublicKey, error) {
	if typ == "ed25519" {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("public key is not the base64 of a %d-byte ed25519 key", ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(raw), nil
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, fmt.Errorf("no PEM public key (type %s is not an asymmetric signing key)", typ)
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}

// Signer is a pki.KeySigner over one pinned version of a transit key. The
// digest is computed locally; Vault signs it (prehashed, ASN.1).
type Signer struct {
	c       *Client
	key     string
	version int
	pub     crypto.PublicKey
}

// NewSigner pins version of transit key name (0 means the latest) and
// reads its public key.
func NewSigner(ctx context.Context, c *Client, name string, version int) (*Signer, error) {
	info, ok, err := c.ReadKey(ctx, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("vault: transit key %s/keys/%s does not exist: run `signet ca init --backend vault`", c.cfg.TransitMount, name)
	}
	if version == 0 {
		version = info.Latest
	}
	pub, ok := info.Public[version]
	if !ok {
		return nil, fmt.Errorf("vault: transit key %s has no version %d (latest is %d)", name, version, info.Latest)
	}
	return &Signer{c: c, key: name, version: version, pub: pub}, nil
}

// Public returns the pinned version's public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// KeyName is the transit key's name.
func (s *Signer) KeyName() string { return s.key }

// Version is the pinned key version.
func (s *Signer) Version() int { return s.version }

// SignDigest asks Vault to sign a digest with the pinned key version. It
// does not check the signature: its users do (x509.CreateCertificate for
// the CA, pki.CheckedSigner for the TSA), and Ready compares the key in
// Vault with the pinned one.
func (s *Signer) SignDigest(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	alg, err := hashName(opts.HashFunc())
	if err != nil {
		return nil, err
	}
	if !s.c.cfg.NoBatch {
		return s.c.batcherFor(batchKey{key: s.key, version: s.version, alg: alg}).sign(ctx, digest)
	}
	sec, err := s.c.write(ctx, "sign with transit key "+s.key, s.c.cfg.TransitMount+"/sign/"+s.key, map[string]any{
		"input":                base64.StdEncoding.EncodeToString(digest),
		"prehashed":            true,
		"hash_algorithm":       alg,
		"marshaling_algorithm": "asn1",
		"key_version":          s.version,
	})
	if err != nil {
		return nil, err
	}
	return parseSignature(sec, s.key)
}

// SignMessage asks Vault to sign msg itself (not a digest of it) with
// version of transit key key. For an ed25519 key this is a plain Ed25519
// signature of msg. Errors are classified like SignDigest's.
func (c *Client) SignMessage(ctx context.Context, key string, version int, msg []byte) ([]byte, error) {
	sec, err := c.write(ctx, "sign with transit key "+key, c.cfg.TransitMount+"/sign/"+key, map[string]any{
		"input":       base64.StdEncoding.EncodeToString(msg),
		"key_version": version,
	})
	if err != nil {
		return nil, err
	}
	return parseSignature(sec, key)
}

// parseSignature extracts the signature of a transit sign response,
// vault:vN:<base64>.
func parseSignature(sec *api.Secret, key string) ([]byte, error) {
	if sec == nil {
		return nil, problem.Unavailable("vault returned no signature for transit key %s", key)
	}
	raw, _ := sec.Data["signature"].(string)
	parts := strings.Split(raw, ":")
	if len(parts) != 3 || parts[0] != "vault" {
		return nil, problem.Unavailable("vault returned a malformed signature for transit key %s", key)
	}
	sig, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, problem.Unavailable("vault returned a malformed signature for transit key %s", key)
	}
	return sig, nil
}

// Ready reports whether Vault is reachable, unsealed and lets signet read
// the key.
func (s *Signer) Ready(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, s.c.cfg.Timeout)
	defer cancel()
	h, err := s.c.api.Sys().HealthWithContext(hctx)
	if err != nil {
		return classify(hctx, "health check", err, s.c.cfg)
	}
	if h.Sealed {
		return problem.Unavailable("vault is sealed")
	}
	info, ok, err := s.c.ReadKey(ctx, s.key)
	switch {
	case err != nil:
		return err
	case !ok:
		return problem.Unavailable("transit key %s is missing", s.key)
	case !pki.SamePublicKey(info.Public[s.version], s.pub):
		return problem.Unavailable("transit key %s version %d is no longer the key this server loaded", s.key, s.version)
	}
	return nil
}

func hashName(h crypto.Hash) (string, error) {
	switch h {
	case crypto.SHA256:
		return "sha2-256", nil
	case crypto.SHA384:
		return "sha2-384", nil
	case crypto.SHA512:
		return "sha2-512", nil
	}
	return "", fmt.Errorf("vault: hash %v is not supported by transit signing", h)
}
