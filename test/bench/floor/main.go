// Command floor measures the crypto floor of one bundle on this machine:
// the CPU that the public-key operations every bundle needs cost, whoever
// serves it. Server side: the identity token's RS256 check, the two checks
// of the client's signatures (proof of possession and artifact signature,
// P-256), the CA signature, the certificate self-check that
// x509.CreateCertificate makes, and the TSA signature (each on the CA
// curve). Client side: the ephemeral P-256 key and its two signatures.
// Everything else (HTTP, JSON, token parsing, certificate and CMS
// encoding, bundle assembly) is above the floor.
//
// It prints each operation's time on one core and the floor in bundles/s
// with every core busy: cores / (sum of the operation times).
//
//	go run ./test/bench/floor [-curve P-384|P-256]
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"testing"
	"time"
)

// op is one public-key operation of a bundle, run count times per bundle.
type op struct {
	name  string
	count int
	run   func(b *testing.B)
}

func main() {
	curveName := flag.String("curve", "P-384", "the CA and TSA curve: P-384 or P-256")
	flag.Parse()
	var curve elliptic.Curve
	var hash crypto.Hash
	switch *curveName {
	case "P-384":
		curve, hash = elliptic.P384(), crypto.SHA384
	case "P-256":
		curve, hash = elliptic.P256(), crypto.SHA256
	default:
		log.Fatalf("-curve %q: want P-384 or P-256", *curveName)
	}
	ops, err := operations(curve, hash)
	if err != nil {
		log.Fatal(err)
	}
	var total time.Duration
	for _, o := range ops {
		r := testing.Benchmark(o.run)
		per := time.Duration(r.NsPerOp()) * time.Duration(o.count)
		total += per
		fmt.Printf("floor %s: %-40s %3d x %8.1f us\n", *curveName, o.name, o.count, float64(r.NsPerOp())/1e3)
	}
	cores := runtime.GOMAXPROCS(0)
	fmt.Printf("floor %s: %.0f us of CPU per bundle; %d cores: %.0f bundles/s\n",
		*curveName, float64(total.Microseconds()), cores, float64(cores)*float64(time.Second)/float64(total))
}

// operations builds the keys and inputs once and returns the operations.
func operations(curve elliptic.Curve, hash crypto.Hash) ([]op, error) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048) // GitHub Actions signs tokens RS256, 2048-bit
	if err != nil {
		return nil, err
	}
	token := make([]byte, 1400) // a typical Actions token's signing input
	tokenDigest := sha256.Sum256(token)
	tokenSig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, tokenDigest[:])
	if err != nil {
		return nil, err
	}
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	clientDigest := sha256.Sum256([]byte("artifact"))
	clientSig, err := ecdsa.SignASN1(rand.Reader, clientKey, clientDigest[:])
	if err != nil {
		return nil, err
	}
	caKey, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, err
	}
	tbs := make([]byte, 900) // a keyless certificate's TBS
	var caDigest []byte
	if hash == crypto.SHA384 {
		d := sha512.Sum384(tbs)
		caDigest = d[:]
	} else {
		d := sha256.Sum256(tbs)
		caDigest = d[:]
	}
	caSig, err := caKey.Sign(rand.Reader, caDigest, hash)
	if err != nil {
		return nil, err
	}
	check := func(ok bool) {
		if !ok {
			fmt.Fprintln(os.Stderr, "floor: a signature did not verify")
			os.Exit(1)
		}
	}
	return []op{
		{"identity token check (RS256, 2048-bit)", 1, func(b *testing.B) {
			for b.Loop() {
				check(rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, tokenDigest[:], tokenSig) == nil)
			}
		}},
		{"client signature checks (P-256)", 2, func(b *testing.B) {
			for b.Loop() {
				check(ecdsa.VerifyASN1(&clientKey.PublicKey, clientDigest[:], clientSig))
			}
		}},
		{"CA and TSA signatures", 2, func(b *testing.B) {
			for b.Loop() {
				if _, err := caKey.Sign(rand.Reader, caDigest, hash); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"certificate self-check", 1, func(b *testing.B) {
			for b.Loop() {
				check(ecdsa.VerifyASN1(&caKey.PublicKey, caDigest, caSig))
			}
		}},
		{"client key generation (P-256)", 1, func(b *testing.B) {
			for b.Loop() {
				if _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"client signatures (P-256)", 2, func(b *testing.B) {
			for b.Loop() {
				if _, err := ecdsa.SignASN1(rand.Reader, clientKey, clientDigest[:]); err != nil {
					b.Fatal(err)
				}
			}
		}},
	}, nil
}
