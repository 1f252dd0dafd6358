package issuancelog

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
)

// TestTrimToWidth: a stored tile or bundle that holds more than a client
// asks for (tessera's MySQL storage returns the whole row) is cut to
// exactly the width asked, as tlog-tiles requires; one that holds fewer
// does not exist yet.
func TestTrimToWidth(t *testing.T) {
	var bundle []byte
	var hashes []byte
	for i := range 8 {
		e := fmt.Appendf(nil, "certificate %d", i)
		bundle = append(bundle, tessera.NewEntry(e).MarshalBundleData(uint64(i))...)
		h := sha256.Sum256(e)
		hashes = append(hashes, h[:]...)
	}
	for _, w := range []int{1, 5, 8} {
		got, err := firstEntries(bundle, w)
		if err != nil {
			t.Fatalf("firstEntries(8 entries, %d): %v", w, err)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(got); err != nil || len(b.Entries) != w || string(b.Entries[w-1]) != fmt.Sprintf("certificate %d", w-1) {
			t.Errorf("firstEntries(8 entries, %d) holds %d entries (%v)", w, len(b.Entries), err)
		}
		tile, err := firstHashes(hashes, w)
		if err != nil || !bytes.Equal(tile, hashes[:w*sha256.Size]) {
			t.Errorf("firstHashes(8 hashes, %d) = %d bytes, %v; want the first %d hashes", w, len(tile), err, w)
		}
	}
	if _, err := firstEntries(bundle, 9); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("firstEntries(8 entries, 9) = %v, want not found", err)
	}
	if _, err := firstHashes(hashes, 256); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("firstHashes(8 hashes, 256) = %v, want not found", err)
	}
	if _, err := firstEntries([]byte{0, 9, 'x'}, 1); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Errorf("a malformed stored bundle: %v, want an error", err)
	}
}
