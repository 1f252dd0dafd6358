package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/oidcmock"
)

// The service account signet runs as in the fake cluster.
const (
	k8sNamespace      = "signet"
	k8sServiceAccount = "signet"
	k8sSAUID          = "6f1c3c2e-8d4b-4a57-9a0e-2f4b7c1d9e11"
	k8sUsername       = "system:serviceaccount:" + k8sNamespace + ":" + k8sServiceAccount
	// k8sReviewerJWT is the bearer Vault presents to the TokenReview API
	// (its token_reviewer_jwt); the fake API server refuses any other.
	k8sReviewerJWT = "vault-token-reviewer-jwt"
)

// tokenReviewAPI is the one endpoint of a Kubernetes API server that
// Vault's kubernetes auth method calls: POST
// /apis/authentication.k8s.io/v1/tokenreviews. It authenticates exactly
// the service-account JWT the test issued and refuses every other token.
type tokenReviewAPI struct {
	srv   *httptest.Server
	valid string // the one JWT the "cluster" issued

	mu       sync.Mutex
	accepted int
	refused  int
	problems []string // requests that a real API server would have rejected
}

func startTokenReviewAPI(t *testing.T, valid string) *tokenReviewAPI {
	t.Helper()
	a := &tokenReviewAPI{valid: valid}
	mux := http.NewServeMux()
	mux.HandleFunc("/apis/authentication.k8s.io/v1/tokenreviews", a.review)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.problem("unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	// TLS, as a real API server: Vault gets its CA as kubernetes_ca_cert.
	a.srv = httptest.NewTLSServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// caPEM is the PEM of the server's self-signed certificate.
func (a *tokenReviewAPI) caPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw}))
}

func (a *tokenReviewAPI) problem(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
}

func (a *tokenReviewAPI) counts() (accepted, refused int, problems []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accepted, a.refused, append([]string(nil), a.problems...)
}

func (a *tokenReviewAPI) review(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Method != http.MethodPost {
		a.problem("tokenreviews: method %s", r.Method)
		writeJSON(http.StatusMethodNotAllowed, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "MethodNotAllowed", "code": 405})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+k8sReviewerJWT {
		a.problem("tokenreviews: Authorization %s", r.Header.Get("Authorization"))
		writeJSON(http.StatusUnauthorized, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
		return
	}
	var req struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Token     string   `json:"token"`
			Audiences []string `json:"audiences"`
		} `json:"spec"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Spec.Token == "" {
		a.problem("tokenreviews: undecodable body or no spec.token (%v)", err)
		writeJSON(http.StatusBadRequest, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "BadRequest", "code": 400})
		return
	}
	status := map[string]any{"authenticated": false}
	a.mu.Lock()
	if req.Spec.Token == a.valid {
		a.accepted++
		status = map[string]any{
			"authenticated": true,
			"user": map[string]any{
				"username": k8sUsername,
				"uid":      k8sSAUID,
				"groups":   []string{"system:serviceaccounts", "system:serviceaccounts:" + k8sNamespace, "system:authenticated"},
			},
			// The API server echoes the audiences it validated.
			"audiences": req.Spec.Audiences,
		}
	} else {
		a.refused++
	}
	a.mu.Unlock()
	writeJSON(http.StatusCreated, map[string]any{
		"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
		"metadata": map[string]any{"creationTimestamp": nil},
		"spec":     req.Spec,
		"status":   status,
	})
}

// serviceAccountClaims are the claims of a legacy (secret-based) Kubernetes
// service-account token, the ones Vault's kubernetes auth method reads.
func serviceAccountClaims() map[string]any {
	return map[string]any{
		"iss":                                    "kubernetes/serviceaccount",
		"sub":                                    k8sUsername,
		"kubernetes.io/serviceaccount/namespace": k8sNamespace,
		"kubernetes.io/serviceaccount/secret.name":          k8sServiceAccount + "-token-x7k2p",
		"kubernetes.io/serviceaccount/service-account.name": k8sServiceAccount,
		"kubernetes.io/serviceaccount/service-account.uid":  k8sSAUID,
	}
}

// TestVaultKubernetesAuth runs signet against a real Vault whose
// kubernetes auth method reviews tokens with a fake Kubernetes TokenReview
// API. signet logs in with the service-account JWT from its token file
// (there is no VAULT_TOKEN), signs across several lifetimes of 3 s Vault
// tokens (renewing them, then logging in again at their 12 s max TTL), and
// refuses to start with a JWT the cluster does not authenticate.
//
// The max TTL is above signet's 10 s relogin interval on purpose. Vault
// reports the TTL left before a token's max TTL in whole seconds, rounded
// up, so vault/api's lifetime watcher can let a token of a few seconds die
// up to about a second before it ends and signet logs in again. A request
// in that gap gets a 403, and signet logs in again and retries it, but only
// if its last login is 10 s old. With a max TTL of 6 s (the AppRole test's)
// no relogin is allowed and such a request fails with 503 (it did in one
// run of three while this test was written).
func TestVaultKubernetesAuth(t *testing.T) {
	// The cluster's token signer; iss is overridden to Kubernetes' own.
	cluster, err := oidcmock.New("https://kubernetes.default.svc")
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := cluster.Mint(serviceAccountClaims())
	if err != nil {
		t.Fatal(err)
	}
	// Same claims and a valid signature, but the cluster never issued it
	// (a deleted service account's token, say): TokenReview refuses it.
	unknownJWT, err := cluster.Mint(serviceAccountClaims())
	if err != nil {
		t.Fatal(err)
	}
	if jwt == unknownJWT {
		t.Fatal("two mints gave the same token")
	}
	k8s := startTokenReviewAPI(t, jwt)

	s := newVaultSetup(t)
	policy := servePolicy
	for _, step := range []struct {
		path string
		data map[string]any
	}{
		{"sys/auth/kubernetes", map[string]any{"type": "kubernetes"}},
		{"auth/kubernetes/config", map[string]any{
			"kubernetes_host":      k8s.srv.URL,
			"kubernetes_ca_cert":   k8s.caPEM(),
			"token_reviewer_jwt":   k8sReviewerJWT,
			"disable_local_ca_jwt": true,
		}},
		{"sys/policies/acl/signet", map[string]any{"policy": policy}},
		{"auth/kubernetes/role/signet", map[string]any{
			"bound_service_account_names":      k8sServiceAccount,
			"bound_service_account_namespaces": k8sNamespace,
			"token_policies":                   "signet",
			"token_ttl":                        "3s",
			"token_max_ttl":                    "12s",
		}},
	} {
		if _, err := s.admin.Logical().Write(step.path, step.data); err != nil {
			t.Fatalf("%s: %v", step.path, err)
		}
	}
	tokenFile := filepath.Join(s.dir, "sa-token")
	s.setConfig(t, "method: token", "method: kubernetes\n    role: signet\n    service-account-token-file: "+tokenFile)
	// No VAULT_TOKEN: the only way in is the service-account JWT.
	env := []string{"VAULT_ADDR=" + s.vault.Addr, "VAULT_TOKEN="}

	t.Run("refused token", func(t *testing.T) {
		if err := os.WriteFile(tokenFile, []byte(unknownJWT), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stderr := serveUntilExit(t, env, 30*time.Second, "--config", s.configPath, "--identity-config", s.idPath, "--addr", freeAddr(t))
		if code == 0 {
			t.Fatalf("signet started with a service-account token the cluster refuses:\n%s", stderr)
		}
		if !strings.Contains(stderr, "log in with kubernetes") || !strings.Contains(stderr, "permission denied") {
			t.Errorf("want an error saying the kubernetes login was denied, got:\n%s", stderr)
		}
		if strings.Contains(stderr, "logged in to vault") {
			t.Errorf("a refused login was logged as a success:\n%s", stderr)
		}
		if strings.Contains(stderr, unknownJWT) {
			t.Errorf("the service-account token leaked into the output")
		}
		if accepted, refused, _ := k8s.counts(); refused == 0 || accepted != 0 {
			t.Errorf("TokenReview saw %d refused and %d accepted reviews; want the refusal to come from TokenReview", refused, accepted)
		}
	})

	t.Run("signs across token lifetimes", func(t *testing.T) {
		if err := os.WriteFile(tokenFile, []byte(jwt), 0o600); err != nil {
			t.Fatal(err)
		}
		srv := startSignet(t, env, "--config", s.configPath, "--identity-config", s.idPath)
		deadline := time.Now().Add(16 * time.Second)
		n := 0
		for time.Now().Before(deadline) {
			tok, err := s.issuer.Mint(releaseClaims())
			if err != nil {
				t.Fatal(err)
			}
			if status, body := signRaw(t, srv, tok, []byte("artifact")); status != http.StatusOK {
				t.Fatalf("request %d, %s before the end: status %d: %s", n, time.Until(deadline).Round(time.Millisecond), status, body)
			}
			n++
			time.Sleep(700 * time.Millisecond)
		}
		logs, _ := os.ReadFile(srv.log)
		logins := 0
		for _, line := range strings.Split(string(logs), "\n") {
			if strings.Contains(line, "logged in to vault") {
				logins++
				if !strings.Contains(line, "kubernetes") {
					t.Errorf("a login by another method: %s", line)
				}
			}
		}
		if logins < 2 {
			t.Errorf("%d signatures over 16 s of 3-12 s tokens but only %d logins:\n%s", n, logins, logs)
		}
		if strings.Contains(string(logs), "vault login failed") {
			t.Errorf("a kubernetes login failed along the way:\n%s", logs)
		}
		// Every login is a TokenReview of signet's JWT (read after the log,
		// so a login in between can only raise the count).
		if accepted, _, _ := k8s.counts(); accepted < logins {
			t.Errorf("%d logins but only %d TokenReviews of signet's JWT", logins, accepted)
		}
		t.Logf("%d signatures, %d kubernetes logins", n, logins)
	})

	if _, _, problems := k8s.counts(); len(problems) > 0 {
		t.Errorf("requests to the TokenReview API that a real API server would reject:\n%s", strings.Join(problems, "\n"))
	}
}

// serveUntilExit runs `signet serve args...` that is expected to exit on
// its own within limit, and returns its exit code and combined output. A
// server still running at the limit fails the test.
func serveUntilExit(t *testing.T, env []string, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, signetBin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("signet serve was still running after %s:\n%s", limit, out.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("signet serve: %v", err)
	return 0, ""
}
