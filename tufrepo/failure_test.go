package tufrepo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSigningFailureIs503(t *testing.T) {
	f := newFixture(t)
	failing, err := NewRemoteSigner(f.online.Public(), func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("vault at 10.0.0.7:8200 is sealed")
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := get(t, f.newRepo(t, failing).Handler(), "/timestamp.json")
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(string(body), "10.0.0.7") {
		t.Fatalf("got %d %s, want 503 without the cause", rec.Code, body)
	}
}

// TestSigningFailureServesTheLastVersion: when the online key cannot sign
// a new period's metadata, the last version is served until its own
// expiry, then 503.
func TestSigningFailureServesTheLastVersion(t *testing.T) {
	f := newFixture(t)
	var down atomic.Bool
	flaky, err := NewRemoteSigner(f.online.Public(), func(ctx context.Context, msg []byte) ([]byte, error) {
		if down.Load() {
			return nil, errors.New("vault is sealed")
		}
		return f.online.SignMessage(ctx, msg)
	})
	if err != nil {
		t.Fatal(err)
	}
	h := f.newRepo(t, flaky).Handler()
	version := func() (int, int64) {
		rec := get(t, h, "/timestamp.json")
		if rec.Code != http.StatusOK {
			return rec.Code, 0
		}
		var m struct {
			Signed struct{ Version int64 } `json:"signed"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return rec.Code, m.Signed.Version
	}
	_, v1 := version()
	down.Store(true)
	f.clock.Advance(period) // a new period that cannot be signed
	if code, v := version(); code != http.StatusOK || v != v1 {
		t.Errorf("while the key is down = %d, version %d; want 200 and the last version %d", code, v, v1)
	}
	f.clock.Advance(expiry) // past the last version's expiry
	if code, _ := version(); code != http.StatusServiceUnavailable {
		t.Errorf("once the last version expired = %d, want 503", code)
	}
	down.Store(false)
	if code, v := version(); code != http.StatusOK || v <= v1 {
		t.Errorf("with the key back = %d, version %d; want a version above %d", code, v, v1)
	}
}

// TestNoExpiredMetadataUnderAFutureFloor: content whose version floor is
// far ahead of the clock (a skewed clock where the rotation was stored)
// keeps one version; once that version expires, a new one is signed
// rather than the expired one served.
func TestNoExpiredMetadataUnderAFutureFloor(t *testing.T) {
	f := newFixture(t)
	f.setContent(f.content.Files, f.clock.Now().Add(100*expiry))
	h := f.repo.Handler()
	expires := func() (int64, time.Time) {
		rec := get(t, h, "/timestamp.json")
		var m struct {
			Signed struct {
				Version int64     `json:"version"`
				Expires time.Time `json:"expires"`
			} `json:"signed"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
			t.Fatalf("timestamp.json = %d", rec.Code)
		}
		return m.Signed.Version, m.Signed.Expires
	}
	v1, _ := expires()
	f.clock.Advance(expiry + period)
	v2, exp := expires()
	if !exp.After(f.clock.Now()) || v2 <= v1 {
		t.Errorf("after the first version expired: version %d (was %d) expiring %s, now %s; want a new, unexpired version", v2, v1, exp, f.clock.Now())
	}
}
