package e2e

import (
	"testing"
	"time"

	"github.com/signet-dev/signet/test/mariadbdev"
	"github.com/signet-dev/signet/test/testclock"
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
	for _, p := range replicas {
		p.stop(t)
	}
	t.Logf("took %s", testclock.WallNow().Sub(started).Round(time.Millisecond))
}
