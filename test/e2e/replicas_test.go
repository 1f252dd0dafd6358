package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"go.yaml.in/yaml/v3"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/keyless/client"
	"github.com/signet-dev/signet/test/haproxydev"
	"github.com/signet-dev/signet/test/testclock"
)

// TestReplicasBehindHAProxy: three `signet serve` replicas share one Vault
// (keys in transit, chains in KV) behind a real HAProxy that checks each
// one's /readyz. Under a closed-loop load through HAProxy one replica is
// SIGKILLed: only requests in flight on it may fail, and every 200 is a
// bundle that verifies (sigstore-go, through signet's bundle.Verify)
// against the trusted root HAProxy serves. Before that, another replica
// gets SIGTERM under load: it reports not ready, HAProxy takes it out, it
// finishes what it has and exits 0, and no client sees an error.
func TestReplicasBehindHAProxy(t *testing.T) {
	s := newVaultSetup(t)
	lbAddr := freeAddr(t)
	s.editConfig(t, func(c map[string]any) {
		c["public-url"] = "http://" + lbAddr // in every replica's trusted root and signing config
		c["log"] = map[string]any{"type": "off"}
		c["shutdown-delay"] = drainDelay.String()
	})
	var replicas []*logProc
	var backends []string
	for range 3 {
		r := startServerEnv(t, s.env, "--config", s.configPath, "--identity-config", s.idPath)
		replicas = append(replicas, r)
		backends = append(backends, r.URL)
	}
	lb := startBalancer(t, lbAddr, "/readyz", backends)
	trustedRoot := fetch(t, lb.URL()+"/api/v1/trustedroot")
	for _, r := range replicas { // one Vault: identical trust material everywhere
		for _, path := range []string{"/api/v1/trustedroot", "/api/v1/signingconfig", "/api/v2/trustBundle"} {
			if !bytes.Equal(fetch(t, r.URL+path), fetch(t, replicas[0].URL+path)) {
				t.Errorf("replica %s serves another %s than %s", r.URL, path, replicas[0].URL)
			}
		}
	}

	t.Run("one replica stopped gracefully", func(t *testing.T) {
		var drained string    // what the replica said during its shutdown delay
		var out time.Duration // from SIGTERM until HAProxy took the replica out
		res := loadThrough(t, s, lb.URL(), 1500, 500, func() {
			signalled := testclock.WallNow()
			_ = replicas[2].cmd.Process.Signal(syscall.SIGTERM)
			drained = drainingStatus(replicas[2].URL)
			out = waitInRotation(t, lb, 2, signalled)
		})
		if drained != "readyz 503, healthz 200" {
			t.Errorf("right after SIGTERM the replica answered %q, want readyz 503 (not ready) and healthz 200 (still serving)", drained)
		}
		select {
		case <-replicas[2].done:
		case <-time.After(30 * time.Second):
			t.Fatal("the replica did not exit within 30s of SIGTERM")
		}
		if code := replicas[2].cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("the replica exited %d after SIGTERM, want 0:\n%s", code, logDigest(replicas[2].output()))
		}
		t.Logf("SIGTERM of one of three replicas under load: %d requests, %d bundles, %d Fulcio certificates, %d failed; HAProxy took it out %s after the signal (shutdown-delay %s)",
			res.sent, len(res.bundles), len(res.leaves), len(res.failed), out.Round(time.Millisecond), drainDelay)
		if len(res.failed) > 0 {
			t.Errorf("a graceful stop cost clients %d requests; the first: %v", len(res.failed), res.failed[:min(5, len(res.failed))])
		}
		res.verifyAll(t, trustedRoot, s.issuer.URL())
	})

	t.Run("one replica killed", func(t *testing.T) {
		// Only requests sent before HAProxy took the dead replica out may
		// fail: those in flight on it, and those HAProxy sent it over a
		// kept-alive connection before it noticed. None sent after.
		var killed, out time.Time
		res := loadThrough(t, s, lb.URL(), 1500, 500, func() {
			killed = testclock.WallNow()
			replicas[1].kill(t)
			out = killed.Add(waitInRotation(t, lb, 1, killed))
		})
		t.Logf("SIGKILL of one of the two replicas left, under load: %d requests, %d bundles, %d Fulcio certificates, %d failed; HAProxy took it out %s after the kill",
			res.sent, len(res.bundles), len(res.leaves), len(res.failed), out.Sub(killed).Round(time.Millisecond))
		var late []string
		for _, f := range res.failed {
			if f.sent.After(out) {
				late = append(late, fmt.Sprintf("%v, sent %s after", f, f.sent.Sub(out).Round(time.Millisecond)))
			}
		}
		if len(late) > 0 {
			t.Errorf("%d requests sent after HAProxy took the killed replica out failed; the first: %v", len(late), late[:min(5, len(late))])
		}

		res.verifyAll(t, trustedRoot, s.issuer.URL())
	})
}

// drainDelay is the replicas' shutdown-delay: ten of HAProxy's health
// checks, time enough for it to take a draining replica out.
const drainDelay = 2 * time.Second

// waitInRotation waits until exactly up replicas are in HAProxy's
// rotation and returns how long that took since from.
func waitInRotation(t *testing.T, lb *haproxydev.LB, up int, from time.Time) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := lb.WaitBackends(ctx, up); err != nil {
		t.Errorf("HAProxy did not take the replica out: %v", err)
	}
	return testclock.WallNow().Sub(from)
}

// drainingStatus reads a replica's /readyz and /healthz within its
// shutdown delay: "readyz 503, healthz 200" for a draining replica.
func drainingStatus(url string) string {
	var ready, health int
	for range 20 { // the signal may take a moment to arrive
		if resp, err := logHTTP.Get(url + "/readyz"); err == nil {
			ready = resp.StatusCode
			resp.Body.Close()
		}
		if ready == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp, err := logHTTP.Get(url + "/healthz"); err == nil {
		health = resp.StatusCode
		resp.Body.Close()
	}
	return fmt.Sprintf("readyz %d, healthz %d", ready, health)
}

// startBalancer runs HAProxy on addr in front of signet replicas (URLs
// or host:port), health-checking healthPath, until the test ends, and
// waits until every replica is in rotation.
func startBalancer(t *testing.T, addr, healthPath string, replicas []string) *haproxydev.LB {
	t.Helper()
	var backends []string
	for _, r := range replicas {
		backends = append(backends, strings.TrimPrefix(r, "http://"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	lb, err := haproxydev.Start(ctx, haproxydev.Options{Backends: backends, HealthPath: healthPath, Port: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("haproxy log, without its 200s:\n%s", balancerDigest(lb.Log()))
		}
		lb.Close()
	})
	if err := lb.WaitBackends(ctx, len(backends)); err != nil {
		t.Fatal(err)
	}
	return lb
}

// balancerDigest is HAProxy's log for a failed test's output: its
// warnings, the changes of a backend's state, and the requests that did
// not get a 200, at most logDigestLines of them, the last. Left out too:
// kept-alive client connections closed before a request (<BADREQ>, CR).
func balancerDigest(log string) string {
	var kept []string
	for line := range strings.Lines(log) {
		// An HTTP log line: client [date] fe be/server timers status bytes - - state ...
		if f := strings.Fields(line); len(f) > 9 && f[2] == "fe" && (f[5] == "200" || f[9] == "CR--" && strings.Contains(line, "<BADREQ>")) {
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept[max(0, len(kept)-logDigestLines):], "")
}

// loadWorkers is the closed-loop concurrency of loadThrough.
const loadWorkers = 8

// loadResult is what a load run got back.
type loadResult struct {
	sent    int
	bundles map[int][]byte      // one-shot bundles, by request number
	leaves  []*x509.Certificate // certificates from /api/v2/signingCert
	failed  []loadFailure
}

// loadFailure is a request of a load run that got no 200.
type loadFailure struct {
	n    int       // the request's number
	sent time.Time // when it was sent
	err  error
}

func (f loadFailure) String() string { return fmt.Sprintf("request %d: %v", f.n, f.err) }

// loadThrough signs n artifacts through url with loadWorkers clients at
// once, each request with a fresh token and key, and calls fault once
// after the request numbered at.
func loadThrough(t *testing.T, s *vaultSetup, url string, n, at int, fault func()) loadResult {
	t.Helper()
	var (
		mu   sync.Mutex
		res  = loadResult{sent: n, bundles: map[int][]byte{}}
		next atomic.Int64
		once sync.Once
		wg   sync.WaitGroup
	)
	for range loadWorkers {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				if i == at {
					once.Do(fault)
				}
				tok, err := s.issuer.Mint(releaseClaims())
				sent := testclock.WallNow()
				if err == nil && i%4 == 0 { // every fourth request through Fulcio's API, as cosign asks
					var leaf *x509.Certificate
					c := client.Client{BaseURL: url, HTTP: logHTTP}
					if _, leaf, err = c.CertifyV2(context.Background(), tok); err == nil {
						mu.Lock()
						res.leaves = append(res.leaves, leaf)
						mu.Unlock()
						continue
					}
				} else if err == nil {
					var signed *client.Signed
					c := client.Client{BaseURL: url, HTTP: logHTTP}
					if signed, err = c.SignArtifact(context.Background(), tok, sha256.Sum256(fmt.Appendf(nil, "artifact %d", i))); err == nil {
						mu.Lock()
						res.bundles[i] = signed.Bundle
						mu.Unlock()
						continue
					}
				}
				mu.Lock()
				res.failed = append(res.failed, loadFailure{n: i, sent: sent, err: err})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return res
}

// verifyAll verifies every bundle against trustedRoot, over the artifact
// signOneShot signed for its request, as the release job of issuer, and
// every Fulcio API certificate against the trusted root's CAs.
func (r loadResult) verifyAll(t *testing.T, trustedRoot []byte, issuer string) {
	t.Helper()
	tr, err := root.NewTrustedRootFromJSON(trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, leaf := range r.leaves {
		verified := false
		for _, ca := range tr.FulcioCertificateAuthorities() {
			if _, err := ca.Verify(leaf, leaf.NotBefore); err == nil {
				verified = true
				break
			}
		}
		if !verified || len(leaf.URIs) != 1 || leaf.URIs[0].String() != wantSAN {
			t.Fatalf("a certificate from /api/v2/signingCert (a 200) does not chain to the trusted root or names %v", leaf.URIs)
		}
	}
	if len(r.leaves) == 0 {
		t.Error("no request went through the Fulcio API")
	}
	for i, b := range r.bundles {
		art := strings.NewReader(fmt.Sprintf("artifact %d", i))
		if _, err := bundle.Verify(b, trustedRoot, art, bundle.Identity{SAN: wantSAN, Issuer: issuer}); err != nil {
			t.Fatalf("the bundle of request %d (a 200) does not verify: %v", i, err)
		}
	}
}

// editConfig rewrites signet.yaml through edit, as a YAML map.
func (s *vaultSetup) editConfig(t *testing.T, edit func(map[string]any)) {
	t.Helper()
	var c map[string]any
	if err := yaml.Unmarshal(readFile(t, s.configPath), &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.configPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
