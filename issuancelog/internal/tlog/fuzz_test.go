package tlog

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// FuzzOpenCheckpoint checks that untrusted checkpoint bytes either open
// as a checkpoint of the pinned key's origin or fail with one of the
// documented errors.
func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "fuzz/log")
	if err != nil {
		f.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	good, err := note.Sign(&note.Note{Text: string(log.Checkpoint{Origin: "fuzz/log", Size: 3, Hash: make([]byte, 32)}.Marshal())}, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("fuzz/log\n3\nAAAA\n\n— fuzz/log AAAAAAAA\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cp, err := OpenCheckpoint(raw, v)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrWrongOrigin) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if cp.Origin != "fuzz/log" {
			t.Fatalf("opened a checkpoint of origin %q", cp.Origin)
		}
	})
}
