package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/provision"
	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/test/vaultdev"
)

// BenchmarkVaultOneShot measures bundles per second through the real HTTP
// stack with the CA and TSA keys in a real Vault dev server (transit,
// ecdsa-p384), at several client concurrency levels:
//
//	go test -run '^$' -bench VaultOneShot -benchtime 400x ./test/e2e/
func BenchmarkVaultOneShot(b *testing.B) {
	vs := vaultdev.Start(b)
	ctx := context.Background()
	vcfg := vault.Config{Address: vs.Addr, Auth: vault.Auth{Token: vs.RootToken}}
	vc, err := vault.Connect(ctx, vcfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	res, err := provision.Init(ctx, vc, provision.InitOptions{})
	vc.Close()
	if err != nil {
		b.Fatal(err)
	}
	// Transit signatures batched (the default) and one request each.
	for _, batch := range []bool{true, false} {
		env := harness.Start(b, harness.Options{Configure: func(cfg *config.Config) {
			cfg.Vault = vcfg
			cfg.Vault.NoBatch = !batch
			cfg.Vault.ApplyDefaults()
			cfg.CA = config.Backend{Type: config.BackendVault, Key: res.CA.Key, KeyVersion: res.CA.Version, ChainPath: res.CA.ChainPath}
			cfg.TSA.Backend = config.Backend{Type: config.BackendVault, Key: res.TSA.Key, KeyVersion: res.TSA.Version, ChainPath: res.TSA.ChainPath}
			cfg.Log.Type = issuancelog.TypeOff // the log's own cost is measured with signet load (README, Benchmarks)
		}})
		token, err := env.GitHub.Mint(releaseClaims())
		if err != nil {
			b.Fatal(err)
		}
		body := oneShotBody(b, token, []byte("artifact"))
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		post := func() error {
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/api/v1/sign", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
		if err := post(); err != nil {
			b.Fatal(err)
		}
		for _, workers := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("batch=%v/clients=%d", batch, workers), func(b *testing.B) {
				var next atomic.Int64
				var failed atomic.Value
				var wg sync.WaitGroup
				start := testclock.WallNow()
				for range workers {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							if err := post(); err != nil {
								failed.Store(err)
								return
							}
						}
					})
				}
				wg.Wait()
				if err, ok := failed.Load().(error); ok {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/testclock.WallNow().Sub(start).Seconds(), "bundles/s")
			})
		}
	}
}
