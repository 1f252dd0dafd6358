package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/mariadbdev"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/transparency-dev/tessera/api"
)

// TestLogOnMariaDBSharedByReplicas runs two signet processes whose one
// issuance log lives in a real MariaDB (Tessera's MySQL storage, no shared
// filesystem; the DSN read from log.dsn-file): certificates signed through either replica, at once, are
// all in the one log, each index once, provable from both; `signet audit
// verify` agrees with both.
func TestLogOnMariaDBSharedByReplicas(t *testing.T) {
	started := testclock.WallNow()
	db := mariadbdev.Start(t)
	f := newLogFixture(t, "")
	// The DSN, password included, comes from a file (a mounted Secret),
	// not from signet.yaml.
	dsnFile := f.write(t, "dsn", []byte(db.DSN+"\n"))
	config := f.write(t, "mysql.yaml", []byte("organization: Acme Signing\ncertificate-lifetime: 10m\n"+f.keysYAML+
		"log:\n  type: mysql\n  dsn-file: "+dsnFile+"\n  key: "+f.logKey+"\n  origin: "+logOrigin+"\n"))
	args := []string{"--config", config, "--identity-config", f.identity}
	replicas := []*logProc{startLogServer(t, args...), startLogServer(t, args...)}
	claims := releaseClaims()

	const perReplica = 20
	certs, failures := signThroughReplicas(t, f, replicas, perReplica, claims)
	for _, err := range failures {
		t.Error(err)
	}
	if len(certs) != perReplica*len(replicas) {
		t.Fatalf("%d certificates signed, want %d", len(certs), perReplica*len(replicas))
	}
	checkUniqueIndices(t, certs)
	for _, p := range replicas {
		if gone, why := p.exited(0); gone {
			t.Fatalf("replica %s exited: %s", p.URL, why)
		}
		proveAll(t, p.URL, f.vkey, certs)
		r := mustRun(t, nil, signetBin, "audit", "verify", "--server", p.URL, "--log-key", f.vkey, "--state", t.TempDir())
		wantOutput(t, r, logOrigin+": size ")
	}
	checkPartialTilesExact(t, f, replicas[0], claims)
	for _, p := range replicas {
		p.stop(t)
	}
	t.Logf("took %s", testclock.WallNow().Sub(started).Round(time.Millisecond))
}

// checkPartialTilesExact: with entries stored past the published
// checkpoint (tessera's MySQL storage keeps them in the same row), the
// partial tile and entry bundle of the checkpoint's size hold exactly that
// many items, as tlog-tiles requires, not the whole row.
func checkPartialTilesExact(t *testing.T, f *logFixture, p *logProc, claims map[string]any) {
	t.Helper()
	cp := string(fetch(t, p.URL+"/api/v1/log/checkpoint"))
	lines := strings.Split(cp, "\n")
	size, err := strconv.Atoi(lines[1])
	if err != nil || size == 0 || size+3 > 256 {
		t.Fatalf("checkpoint size %q: want 1 to 253 entries for this check", lines[1])
	}
	for i := range 3 { // sequenced and stored now, published within a second
		tok, err := f.iss.Mint(claims)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signOneShot(t.Context(), logHTTP, p.URL, tok, 1000+i); err != nil {
			t.Fatal(err)
		}
	}
	var bundle api.EntryBundle
	if err := bundle.UnmarshalText(fetch(t, p.URL+"/api/v1/log/tile/entries/000.p/"+lines[1])); err != nil || len(bundle.Entries) != size {
		t.Errorf("entry bundle 000.p/%d holds %d entries (%v), want %d", size, len(bundle.Entries), err, size)
	}
	if tile := fetch(t, p.URL+"/api/v1/log/tile/0/000.p/"+lines[1]); len(tile) != size*32 {
		t.Errorf("hash tile 0/000.p/%d holds %d bytes, want %d", size, len(tile), size*32)
	}
}
