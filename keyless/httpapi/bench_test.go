package httpapi_test

import (
	"crypto/elliptic"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/issuancelog"
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
