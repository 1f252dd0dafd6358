package httpapi_test

import (
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/keyless/client"
	"github.com/signet-dev/signet/test/harness"
)

// BenchmarkSignOneShot measures the whole one-shot flow in process on
// memory backends: token verification (JWKS cached), proof of possession,
// signature check, certificate issuance (P-384 CA), RFC 3161 timestamp
// (P-384 TSA) and bundle assembly, through the real handler; with the
// issuance log off, and with the (temporary, POSIX) log on, which adds the
// durable append.
//
//	go test -run '^$' -bench SignOneShot -benchmem ./keyless/httpapi/
func BenchmarkSignOneShot(b *testing.B) {
	b.Run("log=off", func(b *testing.B) {
		benchmarkSignOneShot(b, func(cfg *config.Config) { cfg.Log.Type = issuancelog.TypeOff })
	})
	b.Run("log=on", func(b *testing.B) { benchmarkSignOneShot(b, nil) })
}

func benchmarkSignOneShot(b *testing.B, configure func(*config.Config)) {
	env := harness.Start(b, harness.Options{Configure: configure})
	token, _ := githubToken(b, env, nil)
	body, err := json.Marshal(signRequest(b, newKey(b, elliptic.P256()), sub, []byte("artifact")))
	if err != nil {
		b.Fatal(err)
	}
	send := func() int {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sign", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		env.App.Handler.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := send(); code != http.StatusOK { // warm the verifier cache
		b.Fatalf("status %d", code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if code := send(); code != http.StatusOK {
			b.Fatalf("status %d", code)
		}
	}
}

// BenchmarkSignOneShotHTTP measures the one-shot flow end to end over
// loopback HTTP, server and client in one process so one profile holds
// both: the real client (keyless/client, a fresh P-256 key, proof and
// artifact signature per bundle) against the real handler behind an HTTP
// server, log off, clients in parallel, with P-384 and with P-256 CA and
// TSA memory keys. ns/op is wall time per bundle
// across all clients; the CPU profile splits server from client.
//
//	go test -run '^$' -bench SignOneShotHTTP -benchmem -cpuprofile cpu.out ./keyless/httpapi/
func BenchmarkSignOneShotHTTP(b *testing.B) {
	for _, keyType := range []string{config.KeyTypeP384, config.KeyTypeP256} {
		b.Run("keys="+keyType, func(b *testing.B) { benchmarkSignOneShotHTTP(b, keyType) })
	}
}

func benchmarkSignOneShotHTTP(b *testing.B, keyType string) {
	env := harness.Start(b, harness.Options{Configure: func(cfg *config.Config) {
		cfg.Log.Type = issuancelog.TypeOff
		cfg.CA.KeyType, cfg.TSA.KeyType = keyType, keyType
	}})
	token, _ := githubToken(b, env, nil)
	srv := httptest.NewServer(env.App.Handler)
	b.Cleanup(srv.Close)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64 // one kept-alive connection per client
	b.Cleanup(transport.CloseIdleConnections)
	c := &client.Client{BaseURL: srv.URL, HTTP: &http.Client{Transport: transport}}
	digest := sha256.Sum256([]byte("artifact"))
	if _, err := c.SignArtifact(b.Context(), token, digest); err != nil { // warm caches
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SignArtifact(b.Context(), token, digest); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
