package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
)

func TestParseDefaults(t *testing.T) {
	c, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.CertificateLifetime != 10*time.Minute || c.CA.Type != config.BackendMemory ||
		c.TSA.PolicyOID != "1.3.6.1.4.1.57264.2" || c.EffectivePublicURL() != "http://127.0.0.1:8080" {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("default config does not validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"file backend", "ca: {type: file, key-file: k.pem, chain-file: c.pem}\nlog: {dir: /var/lib/signet/log, key: /etc/signet/log.key}\n", ""},
		{"file backend without a log", "ca: {type: file, key-file: k.pem, chain-file: c.pem}\n", "log.dir and log.key are required when the CA has file keys"},
		{"file backend, log off", "ca: {type: file, key-file: k.pem, chain-file: c.pem}\nlog: {type: off}\n", ""},
		{"log dir without key", "log: {dir: /tmp/x}\n", "log.dir and log.key go together"},
		{"log mysql without key", "log: {type: mysql, dsn: x}\n", "log.key is required for a mysql log"},
		{"log mysql", "log: {type: mysql, dsn: \"u:p@tcp(127.0.0.1:3306)/tessera\", key: /etc/signet/log.key}\n", ""},
		{"log mysql without dsn", "log: {type: mysql, key: k}\n", "log.dsn (or log.dsn-file) is required"},
		{"log mysql dsn-file", "log: {type: mysql, dsn-file: /run/secrets/dsn, key: /etc/signet/log.key}\n", ""},
		{"log bad type", "log: {type: s3}\n", `log.type "s3" is not one of`},
		{"log bad interval", "log: {checkpoint-interval: 1ms}\n", "log.checkpoint-interval 1ms must be between"},
		{"tuf", "tuf: {root: /etc/signet/tuf-root.json, key: /etc/signet/signet-tuf.key, period: 10m, expiry: 1h}\n", ""},
		{"tuf defaults", "tuf: {root: r.json, key: k.pem}\n", ""},
		{"tuf root without key", "tuf: {root: r.json}\n", "tuf.root and tuf.key go together"},
		{"tuf key without root", "tuf: {key: k.pem}\n", "tuf.root and tuf.key go together"},
		{"tuf short expiry", "tuf: {root: r.json, key: k.pem, period: 1h, expiry: 90m}\n", "shorter than two periods"},
		{"tuf fractional period", "tuf: {root: r.json, key: k.pem, period: 1500ms}\n", "whole number of seconds"},
		{"tuf transit without vault", "tuf: {root: r.json, key: \"transit:signet-tuf\"}\n", "needs ca.type vault"},
		{"tuf transit without name", "ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {token-file: /t}}\nlog: {type: off}\ntuf: {root: r.json, key: \"transit:\"}\n", "want transit:NAME"},
		{"tuf transit", "ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {token-file: /t}}\nlog: {type: off}\ntuf: {root: r.json, key: \"transit:signet-tuf\"}\n", ""},
		{"unknown key", "lisen: 1.2.3.4:80\n", "field lisen not found"},
		{"bad listen", "listen: nowhere\n", "listen"},
		{"bad public url", "public-url: ftp://x\n", "public-url"},
		{"lifetime too short", "certificate-lifetime: 10s\n", "certificate-lifetime"},
		{"unknown backend", "ca: {type: hsm}\n", `ca.type "hsm"`},
		{"file backend without files", "tsa: {type: file}\n", "key-file and chain-file"},
		{"vault backend without key", "ca: {type: vault}\nvault: {address: http://v:8200, auth: {token-file: /t}}\n", "key and chain-path"},
		{"vault without address", "ca: {type: vault, key: k, chain-path: p}\nvault: {auth: {token-file: /t}}\n", "address is missing"},
		{"vault without credentials", "ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200}\n", "needs VAULT_TOKEN"},
		{"vault approle without role", "ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {method: approle}}\n", "role-id"},
		{"vault batch wait", "ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {token-file: /t}, batch-wait: 1ms}\nlog: {type: off}\n", ""},
		{"vault batch wait too long", "ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {token-file: /t}, batch-wait: 5ms}\nlog: {type: off}\n", "batch-wait 5ms must be between 0 and 2ms"},
		{"vault unknown auth", "ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {method: ldap}}\n", `"ldap"`},
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
}

func TestVaultFromEnvFillsOnlyUnset(t *testing.T) {
	c, err := config.Parse([]byte("vault: {address: http://from-file:8200}\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VAULT_ADDR": "http://from-env:8200", "VAULT_TOKEN": "s.tok", "VAULT_NAMESPACE": "team"}
	c.Vault.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if c.Vault.Address != "http://from-file:8200" || c.Vault.Auth.Token != "s.tok" || c.Vault.Namespace != "team" {
		t.Errorf("FromEnv: %+v", c.Vault)
	}
}

func TestMarshalRoundTripKeepsNoSecret(t *testing.T) {
	c := config.Default()
	c.CA = config.Backend{Type: config.BackendVault, Key: "signet-ca", KeyVersion: 2, ChainPath: "signet/ca-chain"}
	c.Vault.Address = "http://v:8200"
	c.Vault.Auth.Token = "s.secret-token"
	c.Vault.Auth.SecretID = "secret-id"
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s.secret-token") || strings.Contains(string(out), "secret-id:") {
		t.Errorf("marshalled config holds a secret:\n%s", out)
	}
	p := filepath.Join(t.TempDir(), "signet.yaml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := config.Load(p)
	if err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	if back.CA != c.CA || back.Vault.Address != c.Vault.Address {
		t.Errorf("round trip: %+v, want %+v", back.CA, c.CA)
	}
}

func TestDevModeStaysLocalAndInMemory(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"memory on loopback", "", ""},
		{"memory on localhost", "listen: localhost:9000\n", ""},
		{"file CA", "ca: {type: file, key-file: k, chain-file: c}\n", "only with memory"},
		{"vault TSA", "tsa: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {token-file: /t}}\n", "only with memory"},
		{"all interfaces", "listen: 0.0.0.0:8080\n", "loopback only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			c.Dev = true
			err = c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidateIdentityRateLimit(t *testing.T) {
	const gh = config.GitHubActionsIssuer
	issuers := identity.Config{
		OIDCIssuers: map[string]identity.Issuer{
			gh: {IssuerURL: gh, ClientID: "sigstore", Type: identity.TypeCIProvider, CIProvider: identity.ProfileGitHubWorkflow},
			"https://ghes.example.com/_services/token": {IssuerURL: "https://ghes.example.com/_services/token", ClientID: "sigstore", Type: identity.TypeGitHubWorkflow},
			"https://accounts.example.com":             {IssuerURL: "https://accounts.example.com", ClientID: "sigstore", Type: identity.TypeEmail},
		},
		MetaIssuers: map[string]identity.Issuer{
			"https://token.actions.*.ghe.com": {ClientID: "sigstore", Type: identity.TypeGitHubWorkflow},
		},
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"off", "", ""},
		{"defaults", "rate-limit: {per-identity: {requests-per-second: 0.5, burst: 20, max-identities: 100}}\n", ""},
		{"repository-owner for github.com", "rate-limit: {per-identity: {requests-per-second: 1, keys: {\"" + gh + "\": repository-owner}}}\n", ""},
		{"subject for an email issuer", "rate-limit: {per-identity: {requests-per-second: 1, keys: {\"https://accounts.example.com\": subject}}}\n", ""},
		{"repository for a meta-issuer", "rate-limit: {per-identity: {requests-per-second: 1, keys: {\"https://token.actions.*.ghe.com\": repository}}}\n", ""},
		{"subject for ci-provider github-workflow", "rate-limit: {per-identity: {requests-per-second: 1, keys: {\"" + gh + "\": subject}}}\n",
			`config: rate-limit.per-identity.keys["` + gh + `"]: "subject" is not allowed for github-workflow issuers: use repository or repository-owner`},
		{"subject for type github-workflow", "rate-limit: {per-identity: {keys: {\"https://ghes.example.com/_services/token\": subject}}}\n",
			`rate-limit.per-identity.keys["https://ghes.example.com/_services/token"]: "subject" is not allowed for github-workflow issuers`},
		{"subject for a github-workflow meta-issuer", "rate-limit: {per-identity: {keys: {\"https://token.actions.*.ghe.com\": subject}}}\n",
			`keys["https://token.actions.*.ghe.com"]: "subject" is not allowed`},
		{"unknown kind", "rate-limit: {per-identity: {keys: {\"" + gh + "\": workflow}}}\n",
			`rate-limit.per-identity.keys["` + gh + `"]: "workflow" is not one of repository, repository-owner, subject`},
		{"unknown issuer", "rate-limit: {per-identity: {keys: {\"https://token.actions.githubusercontent.com/\": repository}}}\n",
			`rate-limit.per-identity.keys["https://token.actions.githubusercontent.com/"]: not an oidc-issuers URL or meta-issuers pattern`},
		{"negative rate", "rate-limit: {per-identity: {requests-per-second: -1}}\n", "rate-limit.per-identity.requests-per-second -1 must be"},
		{"NaN rate", "rate-limit: {per-identity: {requests-per-second: .nan}}\n", "rate-limit.per-identity.requests-per-second NaN must be"},
		{"infinite rate", "rate-limit: {per-identity: {requests-per-second: .inf}}\n", "rate-limit.per-identity.requests-per-second +Inf must be"},
		{"negative burst", "rate-limit: {per-identity: {requests-per-second: 1, burst: -1}}\n", "rate-limit.per-identity: burst -1"},
		{"negative max-identities", "rate-limit: {per-identity: {requests-per-second: 1, max-identities: -5}}\n", "max-identities -5 must not be negative"},
		{"unknown field", "rate-limit: {per-identity: {rate: 1}}\n", "field rate not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.yaml))
			if err == nil {
				c.Identity = issuers
				err = c.Validate()
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestIdentityRateLimitKeyFor(t *testing.T) {
	l := config.IdentityRateLimit{Keys: map[string]string{"https://configured": config.IdentityKeyRepositoryOwner}}
	for _, tc := range []struct {
		key  string
		iss  identity.Issuer
		want string
	}{
		{"https://configured", identity.Issuer{Type: identity.TypeGitHubWorkflow}, config.IdentityKeyRepositoryOwner},
		{"https://gh", identity.Issuer{Type: identity.TypeGitHubWorkflow}, config.IdentityKeyRepository},
		{"https://gh", identity.Issuer{Type: identity.TypeCIProvider, CIProvider: identity.ProfileGitHubWorkflow}, config.IdentityKeyRepository},
		{"https://gitlab", identity.Issuer{Type: identity.TypeGitLabPipeline}, config.IdentityKeySubject},
		{"https://mail", identity.Issuer{Type: identity.TypeEmail}, config.IdentityKeySubject},
	} {
		if got := l.KeyFor(tc.key, tc.iss); got != tc.want {
			t.Errorf("KeyFor(%s, %+v) = %s, want %s", tc.key, tc.iss, got, tc.want)
		}
	}
}

func TestValidateKeyType(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"ca: {type: memory, key-type: ecdsa-p256}\ntsa: {type: memory, key-type: ecdsa-p384}\n", ""},
		{"ca: {type: memory, key-type: rsa-2048}\n", `ca.key-type "rsa-2048" is not ecdsa-p384 or ecdsa-p256`},
		{"ca: {type: file, key-file: k, chain-file: c, key-type: ecdsa-p256}\n", "ca.key-type is for memory keys only"},
	} {
		c, err := config.Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}
