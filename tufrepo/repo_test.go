package tufrepo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/signet-dev/signet/test/testclock"
)

// fixture is a repository behind a real HTTP server, on a stepped clock.
type fixture struct {
	clock   *testclock.Clock
	root    []byte
	rootKey Signer
	online  Signer
	repo    *Repository
	srv     *httptest.Server
	mu      sync.Mutex
	content Targets
	// rewrite, when set, changes a response body on its way out: a mirror
	// that tampers with what it relays.
	rewrite func(path string, body []byte) []byte
}

const (
	period = time.Minute
	expiry = 10 * time.Minute
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{clock: testclock.New(), content: Targets{Files: map[string][]byte{
		"trusted_root.json": []byte(`{"version":1}`), "signing_config.v0.2.json": []byte(`{"cfg":1}`)}}}
	f.content.Since = f.clock.Now().Add(-time.Hour)
	f.rootKey = mustSigner(t)
	f.online = mustSigner(t)
	var err error
	if f.root, err = NewRoot(context.Background(), f.rootKey, f.online.Public(), f.clock.Now().Add(365*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.repo = f.newRepo(t, f.online)
	f.srv = httptest.NewServer(http.StripPrefix("/tuf", f.mirror(f.repo.Handler())))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) newRepo(t testing.TB, online Signer) *Repository {
	t.Helper()
	r, err := New(Options{Root: f.root, Signer: online, Period: period, Expiry: expiry, Clock: f.clock.Now,
		Targets: func() Targets { f.mu.Lock(); defer f.mu.Unlock(); return f.content }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mirror relays h, through rewrite when one is set.
func (f *fixture) mirror(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		f.mu.Lock()
		rw := f.rewrite
		f.mu.Unlock()
		if rw != nil && rec.Code == http.StatusOK {
			body = rw(r.URL.Path, body)
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

func (f *fixture) setContent(files map[string][]byte, since time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.content = Targets{Files: files, Since: since}
}

func (f *fixture) setRewrite(rw func(path string, body []byte) []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rewrite = rw
}

func mustSigner(t testing.TB) Signer {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewKeySigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client is go-tuf's updater over the fixture with its own cache dir, on
// the fixture's clock.
type client struct {
	f     *fixture
	cache string
}

func (f *fixture) client(t *testing.T) *client { return &client{f: f, cache: t.TempDir()} }

// refresh runs a TUF update and downloads the trusted root target.
func (c *client) refresh() ([]byte, int64, error) {
	cfg, err := config.New(c.f.srv.URL+"/tuf", c.f.root)
	if err != nil {
		return nil, 0, err
	}
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = c.cache, c.cache+"/targets"
	u, err := updater.New(cfg)
	if err != nil {
		return nil, 0, err
	}
	u.UnsafeSetRefTime(c.f.clock.Now())
	if err := u.Refresh(); err != nil {
		return nil, 0, err
	}
	ti, err := u.GetTargetInfo("trusted_root.json")
	if err != nil {
		return nil, 0, err
	}
	_, b, err := u.DownloadTarget(ti, "", "")
	if err != nil {
		return nil, 0, err
	}
	ts := u.GetTrustedMetadataSet()
	return b, ts.Timestamp.Signed.Version, nil
}

func TestClientFollowsVersionsAndRotation(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	b, v1, err := c.refresh()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, []byte(`{"version":1}`)) {
		t.Fatalf("trusted root = %s", b)
	}
	now := f.clock.Now().UnixMilli()
	if want := now - now%60000; v1 != want {
		t.Errorf("version %d, want the period start %d", v1, want)
	}

	f.clock.Advance(period)
	if _, v2, err := c.refresh(); err != nil || v2 != v1+60000 {
		t.Fatalf("next period: version %d (%v), want %d", v2, err, v1+60000)
	}

	// A rotation mid-period: new content since now gets a version of now.
	f.clock.Advance(7 * time.Second)
	rotated := f.clock.Now()
	f.setContent(map[string][]byte{"trusted_root.json": []byte(`{"version":2}`)}, rotated)
	b, v3, err := c.refresh()
	if err != nil || !bytes.Equal(b, []byte(`{"version":2}`)) || v3 != rotated.UnixMilli() {
		t.Fatalf("after rotation: %s version %d (%v), want version %d", b, v3, err, rotated.UnixMilli())
	}

	// New content whose start is not later than the served version still
	// gets a new version.
	f.setContent(map[string][]byte{"trusted_root.json": []byte(`{"version":3}`)}, rotated.Add(-time.Hour))
	b, v4, err := c.refresh()
	if err != nil || !bytes.Equal(b, []byte(`{"version":3}`)) || v4 != v3+1 {
		t.Fatalf("changed content: %s version %d (%v), want version %d", b, v4, err, v3+1)
	}

	// The clock steps back: nothing goes backwards.
	f.clock.Advance(-2 * period)
	if _, v5, err := c.refresh(); err != nil || v5 != v4 {
		t.Fatalf("clock stepped back: version %d (%v), want %d", v5, err, v4)
	}
}

func TestReplicasServeTheSameBytes(t *testing.T) {
	f := newFixture(t)
	other := f.newRepo(t, f.online)
	for _, path := range []string{"/timestamp.json", "/snapshot.json", "/targets.json", "/1.root.json"} {
		a, b := get(t, f.repo.Handler(), path), get(t, other.Handler(), path)
		if a.Code != http.StatusOK || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
			t.Errorf("%s: replicas differ (status %d)", path, a.Code)
		}
	}
}

func TestClientRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		attack     func(f *fixture, old map[string][]byte)
	}{
		{"tampered target", "length", func(f *fixture, _ map[string][]byte) {
			f.setRewrite(func(path string, b []byte) []byte {
				if strings.Contains(path, "/targets/") {
					return append(bytes.Clone(b), ' ')
				}
				return b
			})
		}},
		{"expired timestamp", "expired", func(f *fixture, old map[string][]byte) {
			f.setRewrite(func(path string, b []byte) []byte {
				if path == "/timestamp.json" {
					return old["timestamp"]
				}
				return b
			})
			f.clock.Advance(expiry)
		}},
		{"rolled-back snapshot", "bad version number", func(f *fixture, old map[string][]byte) {
			f.setRewrite(func(path string, b []byte) []byte {
				if strings.HasSuffix(path, ".snapshot.json") {
					return old["snapshot"]
				}
				return b
			})
		}},
		{"replayed timestamp", "must be >=", func(f *fixture, old map[string][]byte) {
			f.setRewrite(func(path string, b []byte) []byte {
				if path == "/timestamp.json" {
					return old["timestamp"]
				}
				return b
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			old := map[string][]byte{"timestamp": get(t, f.repo.Handler(), "/timestamp.json").Body.Bytes(),
				"snapshot": get(t, f.repo.Handler(), "/snapshot.json").Body.Bytes()}
			c := f.client(t)
			f.clock.Advance(period)
			if tc.name == "replayed timestamp" {
				if _, _, err := c.refresh(); err != nil { // the client has seen the newer version
					t.Fatal(err)
				}
			}
			tc.attack(f, old)
			if _, _, err := c.refresh(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("client accepted or failed for another reason: %v (want %q)", err, tc.want)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	f := newFixture(t)
	ts := get(t, f.repo.Handler(), "/timestamp.json")
	if ts.Code != http.StatusOK || ts.Header().Get("Cache-Control") != noCache || ts.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("timestamp.json: %d %v", ts.Code, ts.Header())
	}
	v := f.clock.Now().UnixMilli() - f.clock.Now().UnixMilli()%60000
	for path, want := range map[string]int{
		"/1.root.json": 200, "/root.json": 200, "/2.root.json": 404, "/0.root.json": 404, "/01.root.json": 404,
		"/" + itoa(v) + ".snapshot.json": 200, "/" + itoa(v) + ".targets.json": 200, "/" + itoa(v-60000) + ".snapshot.json": 404,
		"/targets/trusted_root.json": 404, "/targets/00.trusted_root.json": 404, "/../etc/passwd": 404, "/": 404,
		"/x.timestamp.json": 404, "/-1.targets.json": 404,
	} {
		if got := get(t, f.repo.Handler(), path).Code; got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}
	rec := httptest.NewRecorder()
	f.repo.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/timestamp.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", rec.Code)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestNewRefuses(t *testing.T) {
	f := newFixture(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewKeySigner(p384); err == nil {
		t.Error("a P-384 key was accepted as a role key")
	}
	if _, err := NewRoot(t.Context(), f.online, f.online.Public(), f.clock.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "the root key is the online key") {
		t.Errorf("NewRoot with the online key as root key = %v, want a refusal", err)
	}
	for _, tc := range []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"another online key", func(o *Options) { o.Signer = mustSigner(t) }, "does not let the online key"},
		{"expired root", func(o *Options) {
			o.Clock = func() time.Time { return f.clock.Now().Add(366 * 24 * time.Hour) }
		}, "expired"},
		{"not a root", func(o *Options) { o.Root = []byte(`{"signed":{}}`) }, "not TUF root metadata"},
		{"root signed by another key", func(o *Options) { o.Root = bytes.Replace(f.root, []byte(`"sig": "`), []byte(`"sig": "00`), 1) }, "not signed"},
		{"short expiry", func(o *Options) { o.Expiry = period }, "shorter than two periods"},
		{"fractional period", func(o *Options) { o.Period = 1500 * time.Millisecond; o.Expiry = time.Hour }, "whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Root: f.root, Signer: f.online, Period: period, Expiry: expiry, Clock: f.clock.Now,
				Targets: func() Targets { return Targets{} }}
			tc.edit(&o)
			if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestECDSAOnlineKey(t *testing.T) {
	f := newFixture(t)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	online, err := NewKeySigner(p256)
	if err != nil {
		t.Fatal(err)
	}
	if f.root, err = NewRoot(context.Background(), mustSigner(t), online.Public(), f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.repo = f.newRepo(t, online)
	f.srv.Config.Handler = http.StripPrefix("/tuf", f.mirror(f.repo.Handler()))
	if b, _, err := f.client(t).refresh(); err != nil || !bytes.Equal(b, []byte(`{"version":1}`)) {
		t.Fatalf("a client of a P-256 online key: %s, %v", b, err)
	}
}

func FuzzHandlerPath(f *testing.F) {
	fx := newFixture(f)
	for _, seed := range []string{"/timestamp.json", "/1.root.json", "/99999999999999999999.snapshot.json", "/targets/x", "/-0.targets.json", "/1.root.json.", "/%2e%2e/x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, path string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = "/" + path
		rec := httptest.NewRecorder()
		fx.repo.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound {
			t.Fatalf("GET %q = %d", path, rec.Code)
		}
	})
}
