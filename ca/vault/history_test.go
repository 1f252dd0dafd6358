package vault_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
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

// TestWriteChainGuards: a chain under another root than the stored one is
// refused (replicas would refuse to start on it); a write keeps what the
// operator set on the path (cas_required, custom_metadata) and passes the
// check-and-set that cas_required demands.
func TestWriteChainGuards(t *testing.T) {
	_, c := connect(t)
	ctx := t.Context()
	root := newRoot(t)
	const path = "signet/guarded"
	if err := c.WriteChain(ctx, path, vault.StoredChain{Key: "ca", Version: 1, Chain: root.chainFor(t, pki.LocalSigner{Key: mustKey(t)})}); err != nil {
		t.Fatal(err)
	}
	kv := c.API().KVv2("secret")
	casRequired := true
	if err := kv.PatchMetadata(ctx, path, api.KVMetadataPatchInput{CASRequired: &casRequired, CustomMetadata: map[string]any{"owner": "pki-team"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteChain(ctx, path, vault.StoredChain{Key: "ca", Version: 2, Chain: root.chainFor(t, pki.LocalSigner{Key: mustKey(t)})}); err != nil {
		t.Fatalf("a rotation under the same root, with cas_required set: %v", err)
	}
	meta, err := kv.GetMetadata(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if !meta.CASRequired || meta.CustomMetadata["owner"] != "pki-team" || meta.MaxVersions != 10000 || meta.CurrentVersion != 2 {
		t.Errorf("metadata after the write: cas_required %v, custom %v, max_versions %d, version %d; want the operator's kept, 10000 versions, version 2",
			meta.CASRequired, meta.CustomMetadata, meta.MaxVersions, meta.CurrentVersion)
	}
	other := newRoot(t)
	err = c.WriteChain(ctx, path, vault.StoredChain{Key: "ca", Version: 3, Chain: other.chainFor(t, pki.LocalSigner{Key: mustKey(t)})})
	if err == nil || !strings.Contains(err.Error(), "ends at root") {
		t.Errorf("a chain under another root: %v, want a refusal", err)
	}
	if meta, _ := kv.GetMetadata(ctx, path); meta == nil || meta.CurrentVersion != 2 {
		t.Error("the refused chain was written")
	}
}
