package tufrepo

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// TestRootRotation: a root rotated twice (to a new root key, then to the
// same key for a longer life) is served with its earlier versions, and
// go-tuf's client that pinned version 1 reaches version 3, with an empty
// cache and with the cache of an update made before the rotation.
func TestRootRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v1 := f.root
	before := t.TempDir()
	if got, err := updateRoot(f.srv.URL, v1, before, f.clock.Now()); err != nil || got != 1 {
		t.Fatalf("before the rotation: root version %d, %v", got, err)
	}
	newKey := mustSigner(t)
	v2, err := RotateRoot(ctx, v1, f.rootKey, newKey, f.clock.Now().AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	v3, err := RotateRoot(ctx, v2, newKey, newKey, f.clock.Now().AddDate(3, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := New(Options{Root: v3, PreviousRoots: [][]byte{v2, v1}, Signer: f.online, Period: period, Expiry: expiry,
		Clock: f.clock.Now, Targets: func() Targets { return f.content }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/tuf", repo.Handler()))
	t.Cleanup(srv.Close)
	for name, cache := range map[string]string{"empty cache": t.TempDir(), "cache of version 1": before} {
		if got, err := updateRoot(srv.URL, v1, cache, f.clock.Now()); err != nil || got != 3 {
			t.Errorf("%s: root version %d, %v; want 3", name, got, err)
		}
	}
	for path, want := range map[string][]byte{"/1.root.json": v1, "/2.root.json": v2, "/3.root.json": v3, "/root.json": v3, "/4.root.json": nil} {
		rec := get(t, repo.Handler(), path)
		if want == nil && rec.Code != http.StatusNotFound || want != nil && (rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want)) {
			t.Errorf("GET %s: %d, want the version's bytes (or 404)", path, rec.Code)
		}
	}
}

// TestRootRotationRefuses: a rotation by a key that does not hold the
// root role, or to the online key, is refused; so is a repository whose
// earlier roots miss a version or do not lead to the current one.
func TestRootRotationRefuses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	later := f.clock.Now().AddDate(2, 0, 0)
	if _, err := RotateRoot(ctx, f.root, mustSigner(t), mustSigner(t), later); err == nil || !strings.Contains(err.Error(), "does not hold the root role of version 1") {
		t.Errorf("rotation by a stranger's key: %v", err)
	}
	if _, err := RotateRoot(ctx, f.root, f.rootKey, f.online, later); err == nil || !strings.Contains(err.Error(), "the new root key is the online key") {
		t.Errorf("rotation to the online key: %v", err)
	}
	newKey := mustSigner(t)
	v2, err := RotateRoot(ctx, f.root, f.rootKey, newKey, later)
	if err != nil {
		t.Fatal(err)
	}
	v3, err := RotateRoot(ctx, v2, newKey, newKey, later)
	if err != nil {
		t.Fatal(err)
	}
	otherV2, err := RotateRoot(ctx, f.root, f.rootKey, mustSigner(t), later)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		previous [][]byte
		want     string
	}{
		{"version 2 missing", [][]byte{f.root}, "root version 2 is missing"},
		{"version 1 twice", [][]byte{f.root, f.root, v2}, "an earlier root of version 1"},
		{"the current version among them", [][]byte{f.root, v2, v3}, "an earlier root of version 3"},
		{"another version 2", [][]byte{f.root, otherV2}, "root version 3 is not signed by the root keys of version 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Root: v3, PreviousRoots: tc.previous, Signer: f.online, Period: period, Expiry: expiry,
				Clock: f.clock.Now, Targets: func() Targets { return f.content }})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want %q", err, tc.want)
			}
		})
	}
}

// updateRoot runs go-tuf's client pinned to root against the repository
// at base+"/tuf" with cache, at now, and returns the root version it
// trusts after the update.
func updateRoot(base string, root []byte, cache string, now time.Time) (int64, error) {
	cfg, err := config.New(base+"/tuf", root)
	if err != nil {
		return 0, err
	}
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = cache, cache+"/targets"
	u, err := updater.New(cfg)
	if err != nil {
		return 0, err
	}
	u.UnsafeSetRefTime(now)
	if err := u.Refresh(); err != nil {
		return 0, err
	}
	return u.GetTrustedMetadataSet().Root.Signed.Version, nil
}

// TestRootExpiringWhileServing: a root that expires while the server runs
// is no longer served (clients would refuse everything under it): /tuf/
// answers 503 saying why, as a server started on it does. Before that,
// roots are served with a short cache lifetime, since `tuf init --force`
// reuses 1.root.json.
func TestRootExpiringWhileServing(t *testing.T) {
	f := newFixture(t)
	if rec := get(t, f.repo.Handler(), "/1.root.json"); rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != rootCache {
		t.Fatalf("1.root.json: %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	f.clock.Advance(366 * 24 * time.Hour)
	for _, path := range []string{"/timestamp.json", "/1.root.json"} {
		rec := get(t, f.repo.Handler(), path)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "its root has expired") {
			t.Errorf("GET %s after the root expired: %d %s, want 503 saying why", path, rec.Code, rec.Body)
		}
	}
}

// TestEarlierRootsSkipsTheCurrentOne: a copy of the current root beside it
// (a rotation that stopped between keeping it and writing the next one)
// is not an earlier version.
func TestEarlierRootsSkipsTheCurrentOne(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v2, err := RotateRoot(ctx, f.root, f.rootKey, f.rootKey, f.clock.Now().AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	current := filepath.Join(dir, "tuf-root.json")
	for name, b := range map[string][]byte{"tuf-root.json": v2, "1.root.json": f.root, "2.root.json": v2, "notes.json": []byte("{}")} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	earlier, err := EarlierRoots(current)
	if err != nil || len(earlier) != 1 || !bytes.Equal(earlier[0], f.root) {
		t.Fatalf("EarlierRoots = %d roots, %v; want version 1 alone", len(earlier), err)
	}
	if err := CheckRootChain(v2, earlier); err != nil {
		t.Errorf("CheckRootChain: %v", err)
	}
}
