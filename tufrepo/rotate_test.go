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
	v2, err := RotateRoot(ctx, v1, f.rootKey, newKey, nil, f.clock.Now().AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	v3, err := RotateRoot(ctx, v2, newKey, newKey, nil, f.clock.Now().AddDate(3, 0, 0))
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
	if _, err := RotateRoot(ctx, f.root, mustSigner(t), mustSigner(t), nil, later); err == nil || !strings.Contains(err.Error(), "does not hold the root role of version 1") {
		t.Errorf("rotation by a stranger's key: %v", err)
	}
	if _, err := RotateRoot(ctx, f.root, f.rootKey, f.online, nil, later); err == nil || !strings.Contains(err.Error(), "the new root key is the online key") {
		t.Errorf("rotation to the online key: %v", err)
	}
	newKey := mustSigner(t)
	v2, err := RotateRoot(ctx, f.root, f.rootKey, newKey, nil, later)
	if err != nil {
		t.Fatal(err)
	}
	v3, err := RotateRoot(ctx, v2, newKey, newKey, nil, later)
	if err != nil {
		t.Fatal(err)
	}
	otherV2, err := RotateRoot(ctx, f.root, f.rootKey, mustSigner(t), nil, later)
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
	v2, err := RotateRoot(ctx, f.root, f.rootKey, f.rootKey, nil, f.clock.Now().AddDate(2, 0, 0))
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

// TestOnlineKeyRotationRecoversFromAFastForward: metadata signed with the
// online key at a version far ahead (a leaked key, or a replica whose
// clock ran a year ahead) locks clients out of the honest versions; a root
// naming a new online key lets them back in, go-tuf dropping the
// timestamp and snapshot of the old key.
func TestOnlineKeyRotationRecoversFromAFastForward(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	now := f.clock.Now()
	serve := func(root []byte, previous [][]byte, online Signer, clock func() time.Time) string {
		t.Helper()
		repo, err := New(Options{Root: root, PreviousRoots: previous, Signer: online, Period: period, Expiry: 400 * 24 * time.Hour,
			Clock: clock, Targets: func() Targets { return f.content }})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.StripPrefix("/tuf", repo.Handler()))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ahead := serve(f.root, nil, f.online, func() time.Time { return now.AddDate(0, 6, 0) })
	honest := serve(f.root, nil, f.online, func() time.Time { return now })
	cache := t.TempDir()
	if _, err := updateRoot(ahead, f.root, cache, now); err != nil {
		t.Fatalf("the client takes the version signed ahead: %v", err)
	}
	if _, err := updateRoot(honest, f.root, cache, now); err == nil {
		t.Fatal("the honest repository is accepted after the fast-forward; the test shows nothing")
	}
	newOnline := mustSigner(t)
	v2, err := RotateRoot(ctx, f.root, f.rootKey, f.rootKey, newOnline.Public(), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Root: v2, PreviousRoots: [][]byte{f.root}, Signer: f.online, Period: period, Expiry: expiry,
		Clock: f.clock.Now, Targets: func() Targets { return f.content }}); err == nil || !strings.Contains(err.Error(), "does not let the online key") {
		t.Errorf("New with the old online key under the new root = %v, want a refusal", err)
	}
	recovered := serve(v2, [][]byte{f.root}, newOnline, func() time.Time { return now })
	if got, err := updateRoot(recovered, f.root, cache, now); err != nil || got != 2 {
		t.Fatalf("after the online key rotation: root version %d, %v; want 2 and no error", got, err)
	}
}
