package config_test

import (
	"strings"
	"testing"

	"github.com/signet-dev/signet/config"
)

// log.key transit:NAME names a Vault transit key, and only a Vault CA has
// one; any other log.key is a file.
func TestLogTransitKey(t *testing.T) {
	const vaultCA = "ca: {type: vault, key: signet-ca, chain-path: signet/ca-chain}\nvault: {address: http://v:8200, auth: {token-file: /t}}\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"transit key with a vault CA", vaultCA + "log: {dir: /var/lib/signet/log, key: 'transit:signet-log'}\n", ""},
		{"key file with a vault CA", vaultCA + "log: {dir: /var/lib/signet/log, key: /etc/signet/log.key}\n", ""},
		{"transit key with a file CA", "ca: {type: file, key-file: k.pem, chain-file: c.pem}\nlog: {dir: /d, key: 'transit:signet-log'}\n", "needs ca.type vault"},
		{"transit key with memory keys", "log: {dir: /d, key: 'transit:signet-log'}\n", "needs ca.type vault"},
		{"transit key without a name", vaultCA + "log: {dir: /d, key: 'transit:'}\n", "want transit:NAME"},
		{"transit key with a path", vaultCA + "log: {dir: /d, key: 'transit:a/b'}\n", "want transit:NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	name, ok := config.Log{Key: "transit:signet-log"}.TransitKey()
	if !ok || name != "signet-log" {
		t.Errorf("TransitKey = %q, %v", name, ok)
	}
	if _, ok := (config.Log{Key: "/etc/signet/log.key"}).TransitKey(); ok {
		t.Error("a key file is taken for a transit key")
	}
}
