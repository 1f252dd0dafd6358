package audit_test

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/issuancelog/audit"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/transparency-dev/tessera/api/layout"
)

// TestProve proves entries old and new, waits for the checkpoint covering
// a fresh one, gives up on a certificate that is not there, and fails on
// a tile altered on disk.
func TestProve(t *testing.T) {
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	dir := t.TempDir()
	cfg := logtest.Config(dir)
	cfg.CheckpointInterval = 500 * time.Millisecond
	l := logtest.Open(t, cfg, s)
	var ders [][]byte
	for range 700 {
		ders = append(ders, ca.Leaf(t, "alice@example.com", issuerA))
	}
	idx := logtest.Append(t, l, ders...)
	base, hc := logtest.Serve(t, l)
	c, err := audit.New(base, s.VerifierKey(), hc)
	if err != nil {
		t.Fatal(err)
	}
	// Right after Append the checkpoint may not cover the entries yet:
	// Prove waits for one that does.
	for _, i := range []int{0, 699, 300, 10, 555} {
		inc, err := c.Prove(t.Context(), ders[i], 5*time.Second)
		if err != nil || inc.Index != idx[i] || inc.Checkpoint.Size <= inc.Index || len(inc.Proof) == 0 {
			t.Fatalf("Prove(%d) = %+v, %v", i, inc, err)
		}
	}
	waitSize(t, c, 700)
	stranger := ca.Leaf(t, "mallory@evil.example", issuerA)
	start := time.Now()
	_, err = c.Prove(t.Context(), stranger, 300*time.Millisecond)
	if !errors.Is(err, audit.ErrNotFound) || !strings.Contains(err.Error(), "none of the 700 entries") {
		t.Fatalf("Prove of a stranger = %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("Prove of a stranger took %s, want about its 300ms wait", d)
	}

	// Alter the hash of entry 1 in the first level-0 tile: the inclusion
	// proof of entry 0, its sibling, no longer reaches the signed root.
	tile := filepath.Join(dir, "tile/0/000")
	b, err := os.ReadFile(tile)
	if err != nil {
		t.Fatal(err)
	}
	b[32] ^= 1
	writeFile(t, tile, b)
	first := ders[slices.Index(idx, 0)]
	if _, err := c.Prove(t.Context(), first, 0); !errors.Is(err, audit.ErrInconsistent) || !strings.Contains(err.Error(), "tiles and checkpoint") {
		t.Errorf("Prove against an altered tile = %v, want ErrInconsistent", err)
	}
}

// countingTransport counts the entry bundles fetched through it.
type countingTransport struct{ bundles atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/tile/entries/") {
		c.bundles.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestProveFindsByTime finds an old certificate by bisecting on the
// certificates' NotBefore rather than reading the log from its end.
func TestProveFindsByTime(t *testing.T) {
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	l := logtest.Open(t, logtest.Config(t.TempDir()), s)
	const bundles = 6
	start := testclock.Now().Add(-time.Hour)
	var oldest []byte
	for k := range bundles { // bundle k holds certificates from minute k
		ders := make([][]byte, layout.EntryBundleWidth)
		for i := range ders {
			ders[i] = ca.LeafAt(t, "alice@example.com", issuerA, start.Add(time.Duration(k)*time.Minute))
		}
		logtest.Append(t, l, ders...)
		if k == 0 {
			oldest = ders[100]
		}
	}
	base, _ := logtest.Serve(t, l)
	ct := &countingTransport{}
	hc := &http.Client{Transport: ct}
	defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	c, err := audit.New(base, s.VerifierKey(), hc)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := c.Prove(t.Context(), oldest, 5*time.Second)
	if err != nil || inc.Index/layout.EntryBundleWidth != 0 {
		t.Fatalf("Prove = %+v, %v", inc, err)
	}
	if n := ct.bundles.Load(); n > 3 { // two halvings of 6 bundles, then bundle 0
		t.Errorf("Prove read %d entry bundles of %d, want at most 3 by bisection", n, bundles)
	}
}

// hidingTransport answers 404 to the first hide fetches of the
// checkpoint, as a new log does until it publishes its first one.
type hidingTransport struct {
	hide    int32
	fetches atomic.Int32
	base    http.RoundTripper
}

func (h *hidingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/"+layout.CheckpointPath) && h.fetches.Add(1) <= h.hide {
		return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Request: r}, nil
	}
	return h.base.RoundTrip(r)
}

// TestProveWaitsForTheFirstCheckpoint proves a certificate of a log that
// publishes no checkpoint at first (Tessera's MySQL driver publishes its
// first one up to a second after it starts), and names the missing
// checkpoint when none comes within the wait.
func TestProveWaitsForTheFirstCheckpoint(t *testing.T) {
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	l := logtest.Open(t, logtest.Config(t.TempDir()), s)
	der := ca.Leaf(t, "alice@example.com", issuerA)
	idx := logtest.Append(t, l, der)
	base, hc := logtest.Serve(t, l)
	ht := &hidingTransport{hide: 3, base: hc.Transport}
	c, err := audit.New(base, s.VerifierKey(), &http.Client{Transport: ht})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := c.Prove(t.Context(), der, 5*time.Second)
	if err != nil || inc.Index != idx[0] || inc.Checkpoint.Size == 0 {
		t.Fatalf("Prove = %+v, %v; want index %d", inc, err, idx[0])
	}
	if n := ht.fetches.Load(); n <= ht.hide {
		t.Errorf("Prove fetched the checkpoint %d times, want more than the %d hidden", n, ht.hide)
	}

	empty, err := audit.New(t.TempDir(), s.VerifierKey(), nil) // no log's files at all
	if err != nil {
		t.Fatal(err)
	}
	_, err = empty.Prove(t.Context(), der, 300*time.Millisecond)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no checkpoint published within 300ms") {
		t.Errorf("Prove on a log without a checkpoint = %v, want it to say none was published", err)
	}
}
