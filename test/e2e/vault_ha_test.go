package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/test/haproxydev"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/vaultdev"
)

// TestVaultHAFailover: signet on a 3-node Vault raft cluster, reached
// through HAProxy, which routes to the active node only (its
// /v1/sys/health check expects 200, as Vault's docs recommend). Under load
// the active node is SIGKILLed: while the standbys elect a new leader
// requests get 503 (never a 500, never a malformed bundle), and signet
// serves again without a restart. The gap and the count of 503s are
// reported.
func TestVaultHAFailover(t *testing.T) {
	cluster := vaultdev.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	vlb, err := haproxydev.Start(ctx, haproxydev.Options{Backends: cluster.Addrs(), HealthPath: "/v1/sys/health"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vlb.Close)
	if err := vlb.WaitBackends(ctx, 1); err != nil {
		t.Fatal(err)
	}
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	dir := t.TempDir()
	env := []string{"VAULT_ADDR=" + vlb.URL(), "VAULT_TOKEN=" + cluster.RootToken}
	s := &vaultSetup{env: env, dir: dir, configPath: filepath.Join(dir, "signet.yaml"), idPath: filepath.Join(dir, "identity.yaml"), issuer: iss}
	if err := os.WriteFile(s.idPath, []byte("oidc-issuers:\n  "+iss.URL()+":\n    issuer-url: "+iss.URL()+
		"\n    client-id: sigstore\n    type: github-workflow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--org", "Acme Signing")
	s.editConfig(t, func(c map[string]any) { c["log"] = map[string]any{"type": "off"} })
	srv := startServerEnv(t, env, "--config", s.configPath, "--identity-config", s.idPath)
	trustedRoot := fetch(t, srv.URL+"/api/v1/trustedroot")

	token, err := iss.Mint(releaseClaims())
	if err != nil {
		t.Fatal(err)
	}
	artifact := []byte("signed across a Vault failover")
	body := oneShotBody(t, token, artifact)
	var (
		mu       sync.Mutex
		outcomes []haOutcome
		killedAt time.Time
	)
	hc := &http.Client{Timeout: 30 * time.Second}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/sign", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				o := haOutcome{}
				resp, err := hc.Do(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					o.status, o.bundle = resp.StatusCode, b
				}
				o.at = time.Now()
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if o.status != http.StatusOK {
					time.Sleep(20 * time.Millisecond) // as a client backs off
				}
			}
		})
	}
	// Load for a second, kill the active node, and load until signet has
	// served for two seconds after recovering (or 45 s pass).
	time.Sleep(time.Second)
	active, err := cluster.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	active.Stop()
	var recovered time.Time
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline) && (recovered.IsZero() || time.Since(recovered) < 2*time.Second); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		for _, o := range outcomes {
			if recovered.IsZero() && o.status == http.StatusOK && o.at.After(killedAt) && hadFailureBefore(o.at, killedAt, outcomes) {
				recovered = o.at
			}
		}
		mu.Unlock()
	}
	close(stop)
	wg.Wait()

	counts := map[int]int{}
	var firstFail, lastFail time.Time
	for _, o := range outcomes {
		counts[o.status]++
		if o.status != http.StatusOK {
			if firstFail.IsZero() || o.at.Before(firstFail) {
				firstFail = o.at
			}
			if o.at.After(lastFail) {
				lastFail = o.at
			}
		}
	}
	for _, o := range outcomes {
		if o.status == http.StatusServiceUnavailable {
			// The cause in plain words, and nothing internal.
			if !bytes.Contains(bytes.ToLower(o.bundle), []byte("vault")) || bytes.Contains(o.bundle, []byte("127.0.0.1")) {
				t.Errorf("a 503 during the failover says %s", o.bundle)
			}
			t.Logf("a 503 during the failover: %s", bytes.TrimSpace(o.bundle))
			break
		}
	}
	for status, n := range counts {
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Errorf("%d responses with status %d: only 200 and 503 are acceptable during a failover", n, status)
		}
	}
	if recovered.IsZero() {
		t.Fatalf("signet did not serve again within 45 s of the active Vault node's death (statuses %v)", counts)
	}
	var gap time.Duration
	if !firstFail.IsZero() {
		gap = lastFail.Sub(firstFail)
	}
	t.Logf("Vault failover under load: %d requests, %d bundles, %d 503s; no service for %s (first to last failure), first bundle %s after the kill",
		len(outcomes), counts[http.StatusOK], counts[http.StatusServiceUnavailable], gap.Round(10*time.Millisecond), recovered.Sub(killedAt).Round(10*time.Millisecond))
	for _, o := range outcomes {
		if o.status != http.StatusOK {
			continue
		}
		if _, err := bundle.Verify(o.bundle, trustedRoot, bytes.NewReader(artifact), bundle.Identity{SAN: wantSAN, Issuer: iss.URL()}); err != nil {
			t.Fatalf("a 200 bundle does not verify: %v", err)
		}
	}
}

// haOutcome is one request of the failover load: when it ended, its
// status (0 when the connection failed) and its body (the bundle of a 200).
type haOutcome struct {
	at     time.Time
	status int
	bundle []byte
}

// hadFailureBefore reports whether any request failed between the kill
// and at: a 200 after that is a recovery, not a request Vault served
// before it noticed.
func hadFailureBefore(at, killedAt time.Time, outcomes []haOutcome) bool {
	for _, o := range outcomes {
		if o.status != http.StatusOK && o.at.After(killedAt) && o.at.Before(at) {
			return true
		}
	}
	return false
}
