package audit_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/issuancelog/audit"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
	"github.com/transparency-dev/tessera"
)

// rewriteTransport answers a request itself when answer returns a
// response, and passes it to base otherwise: a log server that misbehaves
// on chosen resources.
type rewriteTransport struct {
	base   http.RoundTripper
	answer atomic.Pointer[func(*http.Request) *http.Response]
}

func (rt *rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f := rt.answer.Load(); f != nil && *f != nil {
		if resp := (*f)(r); resp != nil {
			return resp, nil
		}
	}
	return rt.base.RoundTrip(r)
}

// set makes answer decide the responses from now on (nil: none).
func (rt *rewriteTransport) set(answer func(*http.Request) *http.Response) { rt.answer.Store(&answer) }

// respond is a response of status with body.
func respond(r *http.Request, status int, body []byte) *http.Response {
	return &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(body)), Request: r, ContentLength: int64(len(body))}
}

// hostileClient is an audit client of l through a rewriteTransport.
func hostileClient(t *testing.T, l *issuancelog.Log, vkey string) (*audit.Client, *rewriteTransport) {
	t.Helper()
	base, hc := logtest.Serve(t, l)
	rt := &rewriteTransport{base: hc.Transport}
	c, err := audit.New(base, vkey, &http.Client{Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	return c, rt
}

// TestUnreadableTilesAreNotAFork: a log that cannot be read (tiles
// answering 503) fails Verify and Search without ErrInconsistent and
// without saving a conflicting checkpoint, which only a failed proof does.
func TestUnreadableTilesAreNotAFork(t *testing.T) {
	s := logtest.Signer(t, logtest.Origin)
	l, _ := newLog(t, s, 3)
	c, rt := hostileClient(t, l, s.VerifierKey())
	state := t.TempDir()
	waitSize(t, c, 3)
	if _, err := c.Verify(t.Context(), state); err != nil {
		t.Fatal(err)
	}
	logtest.Append(t, l, logtest.NewCA(t).Leaf(t, "bob@example.com", issuerA))
	waitSize(t, c, 4)
	rt.set(func(r *http.Request) *http.Response {
		if strings.Contains(r.URL.Path, "/tile/") {
			return respond(r, http.StatusServiceUnavailable, nil)
		}
		return nil
	})
	_, err := c.Verify(t.Context(), state)
	if err == nil || errors.Is(err, audit.ErrInconsistent) {
		t.Errorf("Verify with tiles unavailable = %v, want an error that is not ErrInconsistent", err)
	}
	if conflicts, _ := filepath.Glob(filepath.Join(state, "*.conflict")); len(conflicts) > 0 {
		t.Errorf("an unreadable log saved a conflicting checkpoint: %v", conflicts)
	}
	if _, err := c.Search(t.Context(), audit.Filter{}, 0, func(audit.Entry) {}); err == nil || errors.Is(err, audit.ErrInconsistent) {
		t.Errorf("Search with tiles unavailable = %v, want an error that is not ErrInconsistent", err)
	}
	rt.set(nil)
	if res, err := c.Verify(t.Context(), state); err != nil || res.Previous.Size != 3 {
		t.Errorf("Verify once the tiles are back = %+v, %v", res, err)
	}
}

// TestSearchRefusesAShrunkenLog: a since beyond the checkpoint is the log
// rolled back, or an older checkpoint replayed: ErrInconsistent, not an
// empty result.
func TestSearchRefusesAShrunkenLog(t *testing.T) {
	s := logtest.Signer(t, logtest.Origin)
	l, _ := newLog(t, s, 2)
	c, _ := hostileClient(t, l, s.VerifierKey())
	waitSize(t, c, 2)
	for since, wantErr := range map[uint64]bool{2: false, 3: true} {
		_, err := c.Search(t.Context(), audit.Filter{}, since, func(audit.Entry) { t.Error("an entry was emitted") })
		if got := errors.Is(err, audit.ErrInconsistent); got != wantErr {
			t.Errorf("Search --since %d of a log of 2 = %v, want ErrInconsistent: %v", since, err, wantErr)
		}
	}
}

// TestSearchListsUnreadableEntries: an entry that is not a readable
// certificate is listed, with its error, whatever the filter, so that
// corrupting a certificate cannot hide it from a monitor.
func TestSearchListsUnreadableEntries(t *testing.T) {
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	l := logtest.Open(t, logtest.Config(t.TempDir()), s)
	logtest.Append(t, l, ca.Leaf(t, "alice@example.com", issuerA))
	logtest.Append(t, l, []byte("not a certificate"))
	logtest.Append(t, l, ca.Leaf(t, "bob@example.com", issuerA))
	c, _ := hostileClient(t, l, s.VerifierKey())
	waitSize(t, c, 3)
	for _, f := range []audit.Filter{
		{Identity: regexp.MustCompile(`^bob@`)},
		{Issuer: "https://other.example"},
		{Serial: "abcdef"},
		{NotIdentity: regexp.MustCompile(`@example\.com$`)},
	} {
		var got []audit.Entry
		if _, err := c.Search(t.Context(), f, 0, func(e audit.Entry) { got = append(got, e) }); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(got, func(e audit.Entry) bool { return e.Index == 1 })
		if i < 0 || !strings.Contains(got[i].Error, "not a certificate") {
			t.Errorf("Search %+v = %+v, want entry 1 listed with its error", f, got)
		}
	}
}

// TestOversizedResourcesRefused: an entry bundle holding more entries than
// its name allows, and a response over the size of any log resource, are
// refused before they are used.
func TestOversizedResourcesRefused(t *testing.T) {
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	l, dir := newLog(t, s, 2)
	c, rt := hostileClient(t, l, s.VerifierKey())
	waitSize(t, c, 2)
	genuine, err := os.ReadFile(filepath.Join(dir, "tile/entries/000.p/2"))
	if err != nil {
		t.Fatal(err)
	}
	extra := binary.BigEndian.AppendUint16(nil, 3)
	padded := append(slices.Clone(genuine), append(extra, "abc"...)...)
	rt.set(func(r *http.Request) *http.Response {
		if strings.Contains(r.URL.Path, "/tile/entries/") {
			return respond(r, http.StatusOK, padded)
		}
		return nil
	})
	if _, err := c.Search(t.Context(), audit.Filter{}, 0, func(audit.Entry) {}); err == nil || !strings.Contains(err.Error(), "holds 3 entries") {
		t.Errorf("Search of a bundle with an extra entry = %v, want it refused", err)
	}
	if _, err := c.Prove(t.Context(), ca.Leaf(t, "carol@example.com", issuerA), 0); err == nil || !strings.Contains(err.Error(), "holds 3 entries") {
		t.Errorf("Prove through a bundle with an extra entry = %v, want it refused", err)
	}
	huge := bytes.Repeat([]byte{'a'}, 256*(2+65535)+1) // one byte over a full bundle of the largest entries
	rt.set(func(r *http.Request) *http.Response { return respond(r, http.StatusOK, huge) })
	if _, err := c.Checkpoint(t.Context()); err == nil || !strings.Contains(err.Error(), "is over its 16777472-byte limit") {
		t.Errorf("a checkpoint of over 16 MiB = %v, want it refused as too long", err)
	}
}

// TestProveCatchesAHiddenCertificate: a log that serves the bundle holding
// a certificate with another certificate in its place (so that a scan of
// the bundles does not find it) is caught when Prove concludes: its "not
// found" is backed by the entries proven against the checkpoint, so the
// answer is an inconsistency, not ErrNotFound.
func TestProveCatchesAHiddenCertificate(t *testing.T) {
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	l := logtest.Open(t, logtest.Config(t.TempDir()), s)
	target, stranger := ca.Leaf(t, "bob@example.com", issuerA), ca.Leaf(t, "mallory@evil.example", issuerA)
	ders := [][]byte{ca.Leaf(t, "alice@example.com", issuerA), target, ca.Leaf(t, "carol@example.com", issuerA)}
	logtest.Append(t, l, ders...)
	c, rt := hostileClient(t, l, s.VerifierKey())
	waitSize(t, c, 3)
	if _, err := c.Prove(t.Context(), target, 0); err != nil {
		t.Fatalf("Prove before the log hides it: %v", err)
	}
	var forged []byte
	for i, der := range [][]byte{ders[0], stranger, ders[2]} {
		forged = append(forged, tessera.NewEntry(der).MarshalBundleData(uint64(i))...)
	}
	rt.set(func(r *http.Request) *http.Response {
		if strings.HasSuffix(r.URL.Path, "/tile/entries/000.p/3") {
			return respond(r, http.StatusOK, forged)
		}
		return nil
	})
	_, err := c.Prove(t.Context(), target, 300*time.Millisecond)
	if err == nil || errors.Is(err, audit.ErrNotFound) || !errors.Is(err, audit.ErrInconsistent) {
		t.Fatalf("Prove of a hidden certificate = %v, want the log's inconsistency", err)
	}
	rt.set(nil) // the log as it is: a certificate never logged is not found
	if _, err := c.Prove(t.Context(), ca.Leaf(t, "dave@example.com", issuerA), 300*time.Millisecond); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("Prove of a certificate never logged = %v, want ErrNotFound", err)
	}
}
