package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/testclock"
)

// TestVaultTUFReplicasAgreeAcrossARotation: two replicas sign their TUF
// metadata each on its own. A rotation is stored just before a period
// boundary, so that it is published (refresh-interval later) after the
// boundary, while replica A is asked for its metadata all along and
// replica B is not: B must then serve no lower version than A did, and
// both must give each version the same targets, or a client behind a load
// balancer sees a rollback (go-tuf refuses it) or a fork.
func TestVaultTUFReplicasAgreeAcrossARotation(t *testing.T) {
	s := newVaultSetup(t)
	mustRun(t, s.env, signetBin, "tuf", "init", "--config", s.configPath, "--root-key", filepath.Join(s.dir, "tuf-root.key"))
	const period = 4 * time.Second
	s.editConfig(t, func(c map[string]any) {
		c["log"] = map[string]any{"type": "off"}
		c["public-url"] = "http://signet.test" // one service behind a load balancer: the same documents
		v := c["vault"].(map[string]any)
		v["refresh-interval"], v["activation-delay"] = "1s", "3s"
		tuf := c["tuf"].(map[string]any)
		tuf["period"], tuf["expiry"] = period.String(), (3 * period).String()
	})
	a := startServerEnv(t, s.env, "--config", s.configPath, "--identity-config", s.idPath)
	b := startServerEnv(t, s.env, "--config", s.configPath, "--identity-config", s.idPath)
	type seen struct {
		version int64
		content string
	}
	look := func(url string) seen {
		t.Helper()
		v := metadataVersion(t, fetch(t, url+"/tuf/timestamp.json"))
		return seen{v, targetsDigest(t, fetch(t, fmt.Sprintf("%s/tuf/%d.targets.json", url, v)))}
	}
	before := look(a.URL)
	if other := look(b.URL); other.version == before.version && other.content != before.content {
		t.Fatalf("before the rotation the replicas give version %d different targets", before.version)
	}

	// Rotate about 0.9 s before a period boundary: `ca init` then stores
	// the chain shortly before or after it, and the replicas publish it
	// one refresh interval after it was stored.
	for ms := testclock.WallNow().UnixMilli() % period.Milliseconds(); ms < 3000 || ms > 3150; ms = testclock.WallNow().UnixMilli() % period.Milliseconds() {
		time.Sleep(20 * time.Millisecond)
	}
	rotated := testclock.WallNow()
	mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--rotate")
	t.Logf("ca init --rotate took %s, from %d ms into a %s period", testclock.WallNow().Sub(rotated).Round(time.Millisecond), rotated.UnixMilli()%period.Milliseconds(), period)

	versions := map[int64]string{} // what A gave each version
	var latest seen
	for deadline := testclock.WallNow().Add(3 * time.Second); testclock.WallNow().Before(deadline) && latest.content == before.content || latest.version == 0; time.Sleep(50 * time.Millisecond) {
		latest = look(a.URL)
		if c, ok := versions[latest.version]; ok && c != latest.content {
			t.Fatalf("replica A gave version %d two different targets", latest.version)
		}
		versions[latest.version] = latest.content
	}
	if latest.content == before.content {
		t.Fatal("replica A did not publish the rotation within 3s")
	}
	got := look(b.URL)
	if got.version < latest.version {
		t.Errorf("replica B serves version %d, below the %d replica A served: a client going from A to B sees a rollback", got.version, latest.version)
	}
	if c, ok := versions[got.version]; ok && c != got.content {
		t.Errorf("replicas A and B give version %d different targets", got.version)
	}
}

// targetsDigest identifies the targets a targets.json lists.
func targetsDigest(t *testing.T, b []byte) string {
	t.Helper()
	var m struct {
		Signed struct {
			Targets map[string]struct {
				Hashes map[string]string `json:"hashes"`
			} `json:"targets"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("targets.json: %v", err)
	}
	out, err := json.Marshal(m.Signed.Targets)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
