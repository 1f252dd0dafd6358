package vault_test

import (
	"testing"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/internal/pki"
)

// TestChainHistoryOutlivesTenRotations: KV v2 keeps 10 versions of a path
// by default; a chain path keeps every chain written to it, so the 11th
// rotation does not drop the first chain from the trusted root.
func TestChainHistoryOutlivesTenRotations(t *testing.T) {
	_, c := connect(t)
	ctx := t.Context()
	root := newRoot(t)
	const rotations = 12
	first := root.chainFor(t, pki.LocalSigner{Key: mustKey(t)})
	for i := range rotations {
		chain := first
		if i > 0 {
			chain = root.chainFor(t, pki.LocalSigner{Key: mustKey(t)})
		}
		if err := c.WriteChain(ctx, "signet/history", vault.StoredChain{Key: "ca", Version: i + 1, Chain: chain}); err != nil {
			t.Fatal(err)
		}
	}
	history, err := c.ChainHistory(ctx, "signet/history")
	if err != nil || len(history) != rotations {
		t.Fatalf("ChainHistory = %d periods, %v; want %d", len(history), err, rotations)
	}
	if !history[0].Chain[0].Equal(first[0]) {
		t.Error("the first chain is not the oldest period of the history")
	}
}
