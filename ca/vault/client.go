package vault

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"
)

// Client is an authenticated Vault client that keeps its login alive: it
// renews its token before expiry and logs in again (AppRole, Kubernetes)
// when the token can no longer be renewed. It is safe for concurrent use.
type Client struct {
	api *api.Client
	cfg Config
	log *slog.Logger

	loginMu   sync.Mutex
	lastLogin time.Time
	// replaced hands keepAlive the login that relogin made, so that it
	// renews the token in use, not the one it replaced.
	replaced chan relogged
	stop     chan struct{}
	done     chan struct{}
	// expiry is when the current token expires, Unix nanoseconds; 0 when
	// it never does (a root token) or is not known yet.
	expiry atomic.Int64
	// batchers group transit signatures per key version (batch.go).
	batchers sync.Map // batchKey -> *batcher
	batchWG  sync.WaitGroup
}

// TokenExpiry reports when the current Vault token expires, as of its last
// login or renewal; ok is false for a token that never expires.
func (c *Client) TokenExpiry() (at time.Time, ok bool) {
	n := c.expiry.Load()
	if n == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// noteTTL records a token's remaining life, as Vault just stated it.
func (c *Client) noteTTL(ttl time.Duration) {
	if ttl <= 0 {
		c.expiry.Store(0)
		return
	}
	c.expiry.Store(time.Now().Add(ttl).UnixNano())
}

// maxIdleVaultConns is how many idle connections to Vault are kept.
const maxIdleVaultConns = 32

// Connect builds a client from cfg, logs in and starts keeping the login
// alive. Close stops it.
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (*Client, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ac := api.DefaultConfig()
	ac.Address = cfg.Address
	ac.Timeout = cfg.Timeout
	ac.MaxRetries = *cfg.MaxRetries
	ac.MinRetryWait = 100 * time.Millisecond
	ac.MaxRetryWait = time.Second
	// A sealed or standby Vault (503) will not recover within one request:
	// answer at once rather than spend the deadline retrying.
	ac.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
			return false, nil
		}
		return api.DefaultRetryPolicy(ctx, resp, err)
	}
	if err := ac.ConfigureTLS(&api.TLSConfig{
		CACert: cfg.CACert, ClientCert: cfg.ClientCert, ClientKey: cfg.ClientKey, TLSServerName: cfg.TLSServerName,
	}); err != nil {
		return nil, fmt.Errorf("vault: TLS: %w", err)
	}
	// vault/api keeps GOMAXPROCS+1 idle connections per host: fewer than
	// the transit batches, KV reads and renewals that can be in flight at
	// once, so the rest would be dialled anew for every request.
	if t, ok := ac.HttpClient.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = maxIdleVaultConns
	}
	client, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("vault: client: %w", err)
	}
	client.ClearToken()
	client.SetNamespace(cfg.Namespace)
	c := &Client{api: client, cfg: cfg, log: log.With("component", "vault"),
		replaced: make(chan relogged, 1), stop: make(chan struct{}), done: make(chan struct{})}
	secret, err := c.login(ctx)
	if err != nil {
		return nil, err
	}
	go c.keepAlive(secret)
	return c, nil
}

// API returns the underlying vault/api client.
func (c *Client) API() *api.Client { return c.api }

// Config returns the effective configuration.
func (c *Client) Config() Config { return c.cfg }

// Close stops renewing the login.
func (c *Client) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	c.batchWG.Wait()
}

// relogged is a login relogin made: its auth secret, nil for a token that
// cannot be renewed.
type relogged struct{ secret *api.Secret }

// login authenticates with the configured method and returns the auth
// secret (nil for a token that cannot be renewed). It is for Connect and
// keepAlive: a login relogin made before it is superseded, and dropped.
func (c *Client) login(ctx context.Context) (*api.Secret, error) {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	secret, err := c.loginLocked(ctx)
	if err == nil {
		select {
		case <-c.replaced:
		default:
		}
	}
	return secret, err
}

func (c *Client) loginLocked(ctx context.Context) (*api.Secret, error) {
	c.lastLogin = time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	a := c.cfg.Auth
	switch a.Method {
	case AuthToken:
		token := a.Token
		if a.TokenFile != "" {
			b, err := os.ReadFile(a.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("vault: token-file: %w", err)
			}
			token = strings.TrimSpace(string(b))
		}
		c.api.SetToken(token)
		self, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
		if err != nil {
			return nil, classify(ctx, "look up the token", err, c.cfg)
		}
		ttl, _ := self.TokenTTL()
		c.noteTTL(ttl)
		return tokenSecret(token, self), nil
	case AuthAppRole:
		secretID := &approle.SecretID{FromString: a.SecretID}
		if a.SecretIDFile != "" {
			secretID = &approle.SecretID{FromFile: a.SecretIDFile}
		}
		m, err := approle.NewAppRoleAuth(a.RoleID, secretID, approle.WithMountPath(a.Mount))
		if err != nil {
			return nil, fmt.Errorf("vault: approle: %w", err)
		}
		return c.loginWith(ctx, m)
	case AuthKubernetes:
		m, err := kubernetes.NewKubernetesAuth(a.Role, kubernetes.WithMountPath(a.Mount),
			kubernetes.WithServiceAccountTokenPath(a.ServiceAccountTokenFile))
		if err != nil {
			return nil, fmt.Errorf("vault: kubernetes: %w", err)
		}
		return c.loginWith(ctx, m)
	}
	return nil, fmt.Errorf("vault: unknown auth method %q", a.Method)
}

func (c *Client) loginWith(ctx context.Context, m api.AuthMethod) (*api.Secret, error) {
	secret, err := c.api.Auth().Login(ctx, m)
	if err != nil {
		return nil, classify(ctx, "log in with "+c.cfg.Auth.Method, err, c.cfg)
	}
	c.log.Info("logged in to vault", "method", c.cfg.Auth.Method, "ttl_seconds", secret.Auth.LeaseDuration)
	c.noteTTL(time.Duration(secret.Auth.LeaseDuration) * time.Second)
	return secret, nil
}

// canRelogin reports whether a lost token can be replaced by logging in:
// with a login method, or with a token file that something else (Vault
// Agent, a secret mount) refreshes, which a login reads again.
func (c *Client) canRelogin() bool {
	return c.cfg.Auth.Method != AuthToken || c.cfg.Auth.TokenFile != ""
}

// reloginInterval is the least time between two logins forced by a
// refusal while the token still works, so that a policy that lacks a path
// does not become a flood of logins (and of Vault tokens).
const reloginInterval = 10 * time.Second

// relogin logs in again after Vault refused failedToken. Concurrent
// refusals share one login: when the token has already been replaced it
// does nothing. After a recent login it first asks Vault whether the token
// still works, and logs in only if it does not (an expired token), never
// for a refusal the token's policy causes.
func (c *Client) relogin(ctx context.Context, failedToken string) error {
	if !c.canRelogin() {
		return nil
	}
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if c.api.Token() != failedToken {
		return nil
	}
	if time.Since(c.lastLogin) < reloginInterval {
		if _, err := c.api.Auth().Token().LookupSelfWithContext(ctx); err == nil {
			return nil
		}
	}
	secret, err := c.loginLocked(ctx)
	if err != nil {
		return err
	}
	select { // at most one waits: the newest login wins
	case <-c.replaced:
	default:
	}
	c.replaced <- relogged{secret}
	return nil
}

// tokenSecret turns a token lookup into the secret a lifetime watcher
// renews; nil when the token is not renewable or never expires.
func tokenSecret(token string, self *api.Secret) *api.Secret {
	if self == nil {
		return nil
	}
	renewable, _ := self.TokenIsRenewable()
	ttl, _ := self.TokenTTL()
	if !renewable || ttl <= 0 {
		return nil
	}
	return &api.Secret{Auth: &api.SecretAuth{ClientToken: token, Renewable: true, LeaseDuration: int(ttl.Seconds())}}
}

// keepAlive renews the token until it cannot be renewed, then logs in
// again with backoff, until Close. When relogin replaces the token, it
// renews the new one from then on.
func (c *Client) keepAlive(secret *api.Secret) {
	defer close(c.done)
	backoff := time.Second
	for {
		if secret == nil || secret.Auth == nil || !secret.Auth.Renewable {
			var wait <-chan time.Time // nil: nothing to renew or log in again for
			if secret != nil && c.canRelogin() {
				// A non-renewable login: log in again at 80% of its life.
				wait = time.After(time.Duration(float64(secret.Auth.LeaseDuration)*0.8) * time.Second)
			}
			select {
			case <-c.stop:
				return
			case r := <-c.replaced:
				secret = r.secret
				continue
			case <-wait:
			}
		} else {
			stopped, next := c.watch(secret)
			if stopped {
				return
			}
			if next != nil {
				secret = next.secret
				continue
			}
		}
		if !c.canRelogin() {
			c.log.Error("vault token can no longer be renewed; signet needs a new token")
			<-c.stop
			return
		}
		next, err := c.login(context.Background())
		if err != nil {
			c.log.Warn("vault login failed, retrying", "error", err, "in", backoff)
			select {
			case <-c.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		secret, backoff = next, time.Second
	}
}

// watch renews secret until renewal ends, Close is called (stopped) or
// relogin replaces the token (next).
func (c *Client) watch(secret *api.Secret) (stopped bool, next *relogged) {
	w, err := c.api.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: secret})
	if err != nil {
		c.log.Error("vault lifetime watcher", "error", err)
		return false, nil
	}
	go w.Start()
	defer w.Stop()
	for {
		select {
		case <-c.stop:
			return true, nil
		case r := <-c.replaced:
			return false, &r
		case err := <-w.DoneCh():
			c.log.Info("vault token renewal ended", "error", err)
			return false, nil
		case r := <-w.RenewCh():
			c.log.Debug("vault token renewed", "ttl_seconds", r.Secret.Auth.LeaseDuration)
			if r.Secret != nil && r.Secret.Auth != nil {
				c.noteTTL(time.Duration(r.Secret.Auth.LeaseDuration) * time.Second)
			}
		}
	}
}
