package issuancelog

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Signer signs the log's checkpoints as C2SP signed notes. It is a
// note.Signer whose name is the log's origin and whose public key is
// known, so that the verifier key can be served and pinned.
type Signer interface {
	note.Signer
	// VerifierKey is the note verifier key, name+hash+base64, that
	// auditors pin to check the checkpoints.
	VerifierKey() string
}

// keySigner is a Signer holding its private key.
type keySigner struct {
	note.Signer
	vkey string
}

// VerifierKey returns the verifier key of the signer's public key.
func (s *keySigner) VerifierKey() string { return s.vkey }

// NewKeySigner returns the Signer of a note private key,
// PRIVATE+KEY+name+hash+base64 (white space around it is ignored).
func NewKeySigner(skey string) (Signer, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key is not a note private key (PRIVATE+KEY+name+hash+base64): %w", err)
	}
	// note.NewSigner checked the encoding; the key is the fifth field (its
	// base64 may hold '+'), an algorithm byte (1, Ed25519) and the seed.
	fields := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if len(fields) != 5 || err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("checkpoint key is not an Ed25519 note private key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: deriving its verifier key: %w", err)
	}
	return &keySigner{Signer: s, vkey: vkey}, nil
}

// LoadKeySigner reads a note private key from a file, as written by
// GenerateKey.
func LoadKeySigner(path string) (Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint key: %w", err)
	}
	s, err := NewKeySigner(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// GenerateKey makes a new Ed25519 checkpoint key named origin. It returns
// the Signer and the note private key to keep (in a file, or nowhere for
// a --dev log held in memory).
func GenerateKey(rand io.Reader, origin string) (Signer, string, error) {
	if err := validOrigin(origin); err != nil {
		return nil, "", err
	}
	skey, _, err := note.GenerateKey(rand, origin)
	if err != nil {
		return nil, "", fmt.Errorf("generating a checkpoint key: %w", err)
	}
	s, err := NewKeySigner(skey)
	if err != nil {
		return nil, "", err
	}
	return s, skey, nil
}

// SignFunc makes an Ed25519 signature of msg with a key held elsewhere,
// such as a Vault transit key.
type SignFunc func(ctx context.Context, msg []byte) ([]byte, error)

// remoteSigner is a Signer whose private key stays with a SignFunc.
type remoteSigner struct {
	name    string
	hash    uint32
	vkey    string
	pub     ed25519.PublicKey
	sign    SignFunc
	timeout time.Duration
}

// NewEd25519Signer returns a Signer named origin for an Ed25519 key held
// elsewhere: pub is its public key, sign makes signatures and is given at
// most timeout per checkpoint (note.Signer carries no context). Every
// signature is checked against pub before it is used.
func NewEd25519Signer(origin string, pub ed25519.PublicKey, timeout time.Duration, sign SignFunc) (Signer, error) {
	if err := validOrigin(origin); err != nil {
		return nil, err
	}
	if sign == nil || timeout <= 0 {
		return nil, errors.New("checkpoint signer: a sign function and a positive timeout are required")
	}
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signer: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signer: %w", err)
	}
	return &remoteSigner{name: origin, hash: v.KeyHash(), vkey: vkey, pub: pub, sign: sign, timeout: timeout}, nil
}

// Name returns the key's name, the log's origin.
func (s *remoteSigner) Name() string { return s.name }

// KeyHash returns the note key hash of the public key.
func (s *remoteSigner) KeyHash() uint32 { return s.hash }

// VerifierKey returns the note verifier key of the public key.
func (s *remoteSigner) VerifierKey() string { return s.vkey }

// Sign signs msg through the SignFunc and checks the signature.
func (s *remoteSigner) Sign(msg []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	sig, err := s.sign(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("signing a checkpoint: %w", err)
	}
	if !ed25519.Verify(s.pub, msg, sig) {
		return nil, errors.New("signing a checkpoint: the signature does not verify with the configured public key")
	}
	return sig, nil
}
