// Package vault keeps signet's CA and TSA keys in HashiCorp Vault's transit
// engine: signet builds each certificate and timestamp and Vault signs its
// digest, so the private keys never leave Vault. Certificate chains live in
// Vault KV v2, so every replica reads the same ones.
package vault

import (
	"errors"
	"fmt"
	"time"
)

// Auth methods.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// Config is how signet reaches and authenticates to Vault. Fields left
// empty take the standard VAULT_* environment variables (see FromEnv).
type Config struct {
	// Address is Vault's URL (VAULT_ADDR).
	Address string `yaml:"address"`
	// Namespace is the Vault Enterprise namespace (VAULT_NAMESPACE).
	Namespace string `yaml:"namespace,omitempty"`
	// CACert is a PEM file of CAs trusted for Vault's TLS (VAULT_CACERT).
	CACert string `yaml:"ca-cert,omitempty"`
	// ClientCert and ClientKey are PEM files for TLS client auth
	// (VAULT_CLIENT_CERT, VAULT_CLIENT_KEY).
	ClientCert string `yaml:"client-cert,omitempty"`
	ClientKey  string `yaml:"client-key,omitempty"`
	// TLSServerName overrides the SNI name (VAULT_TLS_SERVER_NAME).
	TLSServerName string `yaml:"tls-server-name,omitempty"`
	// Timeout bounds each Vault operation, retries included; default 5s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries bounds retries of a failed request (with backoff); default 2.
	MaxRetries *int `yaml:"max-retries,omitempty"`
	// TransitMount is the transit engine's mount; default "transit".
	TransitMount string `yaml:"transit-mount"`
	// KVMount is the KV v2 engine's mount; default "secret".
	KVMount string `yaml:"kv-mount"`
	// Auth says how signet logs in.
	Auth Auth `yaml:"auth"`
	// NoBatch turns off batching of transit signatures: each certificate
	// and timestamp is then one sign request (batching groups the digests
	// asked for while a request is in flight; see batch.go).
	NoBatch bool `yaml:"no-batch,omitempty"`
	// BatchWait is how long a digest that finds no sign request in flight
	// (and no other digest waiting) waits for others to share its
	// request; the request then goes when the batch is full or the wait
	// ends. 0 (the default) sends it at once, which costs no latency,
	// since digests asked for while a request is in flight are batched
	// anyway. At most 2ms.
	BatchWait time.Duration `yaml:"batch-wait,omitempty"`
	// RefreshInterval is how often a running server rereads the chains in
	// KV to follow a rotation (`signet ca init --rotate`); default 30s.
	RefreshInterval time.Duration `yaml:"refresh-interval,omitempty"`
	// ActivationDelay is how long after a rotation stored its new chain
	// the servers start issuing with it; the trusted root has it at once,
	// so verifiers that refresh theirs on an interval have it before the
	// first bundle made with it. 0 issues at once (an emergency rotation).
	// Default 2m, at most 30m.
	ActivationDelay *time.Duration `yaml:"activation-delay,omitempty"`
}

// MaxBatchWait bounds Config.BatchWait: waiting longer than a transit
// round trip would cost more latency than batching saves.
const MaxBatchWait = 2 * time.Millisecond

// Auth is a Vault login method and its credentials.
type Auth struct {
	// Method is token (default), approle or kubernetes.
	Method string `yaml:"method"`
	// Token is the Vault token of the token method (VAULT_TOKEN); never
	// written to a config file.
	Token string `yaml:"-"`
	// TokenFile is a file holding the token.
	TokenFile string `yaml:"token-file,omitempty"`
	// Mount is the auth method's mount path; default the method's name.
	Mount string `yaml:"mount,omitempty"`
	// RoleID is the AppRole role ID (VAULT_ROLE_ID).
	RoleID string `yaml:"role-id,omitempty"`
	// SecretID is the AppRole secret ID (VAULT_SECRET_ID); never written.
	SecretID string `yaml:"-"`
	// SecretIDFile is a file holding the AppRole secret ID.
	SecretIDFile string `yaml:"secret-id-file,omitempty"`
	// Role is the Kubernetes auth role.
	Role string `yaml:"role,omitempty"`
	// ServiceAccountTokenFile is the Kubernetes service account token;
	// default /var/run/secrets/kubernetes.io/serviceaccount/token.
	ServiceAccountTokenFile string `yaml:"service-account-token-file,omitempty"`
}

// FromEnv fills the fields left empty from the standard VAULT_* variables,
// read through lookup (os.LookupEnv in the binary).
func (c *Config) FromEnv(lookup func(string) (string, bool)) {
	set := func(dst *string, name string) {
		if v, ok := lookup(name); ok && *dst == "" {
			*dst = v
		}
	}
	set(&c.Address, "VAULT_ADDR")
	set(&c.Namespace, "VAULT_NAMESPACE")
	set(&c.CACert, "VAULT_CACERT")
	set(&c.ClientCert, "VAULT_CLIENT_CERT")
	set(&c.ClientKey, "VAULT_CLIENT_KEY")
	set(&c.TLSServerName, "VAULT_TLS_SERVER_NAME")
	set(&c.Auth.Token, "VAULT_TOKEN")
	set(&c.Auth.RoleID, "VAULT_ROLE_ID")
	set(&c.Auth.SecretID, "VAULT_SECRET_ID")
}

// DefaultActivationDelay is vault.activation-delay when unset.
const DefaultActivationDelay = 2 * time.Minute

// ApplyDefaults sets the defaults of the fields left empty.
func (c *Config) ApplyDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxRetries == nil {
		two := 2
		c.MaxRetries = &two
	}
	if c.TransitMount == "" {
		c.TransitMount = "transit"
	}
	if c.KVMount == "" {
		c.KVMount = "secret"
	}
	if c.Auth.Method == "" {
		c.Auth.Method = AuthToken
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = 30 * time.Second
	}
	if c.ActivationDelay == nil {
		d := DefaultActivationDelay
		c.ActivationDelay = &d
	}
	if c.Auth.Mount == "" && c.Auth.Method != AuthToken {
		c.Auth.Mount = c.Auth.Method
	}
	if c.Auth.Method == AuthKubernetes && c.Auth.ServiceAccountTokenFile == "" {
		c.Auth.ServiceAccountTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	}
}

// Validate checks the configuration without contacting Vault.
func (c *Config) Validate() error {
	if c.Address == "" {
		return errors.New("vault: address is missing: set vault.address or VAULT_ADDR")
	}
	if c.Timeout <= 0 || c.Timeout > time.Minute {
		return fmt.Errorf("vault: timeout %s must be between 0 and 1m", c.Timeout)
	}
	if c.BatchWait < 0 || c.BatchWait > MaxBatchWait {
		return fmt.Errorf("vault: batch-wait %s must be between 0 and %s", c.BatchWait, MaxBatchWait)
	}
	if c.RefreshInterval < time.Second || c.RefreshInterval > time.Hour {
		return fmt.Errorf("vault: refresh-interval %s must be between 1s and 1h", c.RefreshInterval)
	}
	if c.ActivationDelay != nil && (*c.ActivationDelay < 0 || *c.ActivationDelay > 30*time.Minute) {
		return fmt.Errorf("vault: activation-delay %s must be between 0 and 30m (rotated-out chains stay trusted for an hour)", *c.ActivationDelay)
	}
	if c.MaxRetries != nil && (*c.MaxRetries < 0 || *c.MaxRetries > 10) {
		return fmt.Errorf("vault: max-retries %d must be between 0 and 10", *c.MaxRetries)
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return errors.New("vault: client-cert and client-key go together")
	}
	switch c.Auth.Method {
	case AuthToken:
		if c.Auth.Token == "" && c.Auth.TokenFile == "" {
			return errors.New("vault: token auth needs VAULT_TOKEN or vault.auth.token-file")
		}
	case AuthAppRole:
		if c.Auth.RoleID == "" {
			return errors.New("vault: approle auth needs vault.auth.role-id or VAULT_ROLE_ID")
		}
		if c.Auth.SecretID == "" && c.Auth.SecretIDFile == "" {
			return errors.New("vault: approle auth needs VAULT_SECRET_ID or vault.auth.secret-id-file")
		}
	case AuthKubernetes:
		if c.Auth.Role == "" {
			return errors.New("vault: kubernetes auth needs vault.auth.role")
		}
	default:
		return fmt.Errorf("vault: auth.method %q is not one of token, approle, kubernetes", c.Auth.Method)
	}
	return nil
}
