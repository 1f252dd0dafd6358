package app

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/tufrepo"
)

// TUFPath is where the TUF repository is served: metadata at its base,
// target files under TUFPath+"/targets/".
const TUFPath = "/tuf"

// Target names of the repository: the names cosign, sigstore-go and
// sigstore-js look for.
const (
	TrustedRootTarget   = "trusted_root.json"
	SigningConfigTarget = "signing_config.v0.2.json"
)

// tufRootWarning is how long before the TUF root expires each start warns.
const tufRootWarning = 30 * 24 * time.Hour

// devTUFRootLifetime is how long the root made at start in dev mode lasts.
const devTUFRootLifetime = 365 * 24 * time.Hour

// lateTUF is the TUF repository, opened once the keys are loaded (with
// Vault, possibly after start); until then it answers 503.
type lateTUF struct {
	repo atomic.Pointer[tufrepo.Repository]
	why  func() string // why it is not open yet, for clients
	// refused, once set, is why the repository will not open (an expired
	// root): signing goes on without it.
	refused atomic.Pointer[string]
}

func (t *lateTUF) get() *tufrepo.Repository  { return t.repo.Load() }
func (t *lateTUF) set(r *tufrepo.Repository) { t.repo.Store(r) }

// Ready reports a repository that is not open: one that an expired root
// keeps closed is ready, since signing goes on without it.
func (t *lateTUF) Ready(context.Context) error {
	if t.get() == nil && t.refused.Load() == nil {
		return fmt.Errorf("the TUF repository is not open (%s)", t.why())
	}
	return nil
}

// Register serves the repository read-only under TUFPath.
func (t *lateTUF) Register(r *mux.Router) {
	r.PathPrefix(TUFPath+"/").Handler(http.StripPrefix(TUFPath, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		repo := t.get()
		if why := t.refused.Load(); repo == nil && why != nil {
			problem.Write(w, nil, req, problem.Unavailable("the TUF repository is not served: %s", *why))
			return
		}
		if repo == nil {
			problem.Write(w, nil, req, problem.Unavailable("the TUF repository is not open yet (%s): try again shortly", t.why()).WithRetryAfter(time.Second))
			return
		}
		repo.Handler().ServeHTTP(w, req)
	}))).Methods(http.MethodGet, http.MethodHead)
}

// openTUF builds the TUF repository over the trust documents, or nil when
// the configuration has none. In dev mode without a configured root, the
// root and online keys are made now and the root is signed at start.
func (a *App) openTUF(ctx context.Context, cfg *config.Config, vc *vault.Client, targets func() tufrepo.Targets, log *slog.Logger) (*tufrepo.Repository, error) {
	if !cfg.TUFEnabled() {
		return nil, nil
	}
	tc := cfg.EffectiveTUF()
	var online tufrepo.Signer
	var root []byte
	var earlier [][]byte
	var err error
	if cfg.TUFEphemeral() {
		if online, root, err = devTUF(ctx, a.clock()); err != nil {
			return nil, fmt.Errorf("app: tuf: %w", err)
		}
		log.Warn("TUF repository under keys made at start (development): its root changes on every restart", "root", a.PublicURL+TUFPath+"/1.root.json")
	} else {
		if root, err = os.ReadFile(tc.Root); err != nil {
			return nil, fmt.Errorf("app: tuf.root: %w", err)
		}
		if online, err = tufSigner(ctx, vc, tc.Key, root); err != nil {
			return nil, fmt.Errorf("app: tuf.key %s: %w", tc.Key, err)
		}
		if earlier, err = tufrepo.EarlierRoots(tc.Root); err != nil {
			return nil, fmt.Errorf("app: tuf.root: %w", err)
		}
	}
	repo, err := tufrepo.New(tufrepo.Options{
		Root: root, PreviousRoots: earlier, Signer: online, Period: tc.Period, Expiry: tc.Expiry, Clock: a.clock, Log: log,
		Targets: targets,
	})
	if err != nil {
		return nil, fmt.Errorf("app: tuf: %w", err)
	}
	log.Info("TUF repository", "path", TUFPath, "root_version", repo.RootVersion(), "root_expires", repo.RootExpires().UTC().Format(time.RFC3339), "period", tc.Period, "expiry", tc.Expiry)
	if left := repo.RootExpires().Sub(a.clock()); left < tufRootWarning {
		log.Warn("the TUF root expires soon: sign a new root and have clients pin it, or TUF stops being served then",
			"root_expires", repo.RootExpires().UTC().Format(time.RFC3339), "left", left.Round(time.Hour).String())
	}
	return repo, nil
}

// devTUF makes a root key and an online key in memory and a root signed now.
func devTUF(ctx context.Context, now time.Time) (tufrepo.Signer, []byte, error) {
	var keys [2]tufrepo.Signer
	for i := range keys {
		k, err := tufrepo.GenerateKey()
		if err != nil {
			return nil, nil, err
		}
		if keys[i], err = tufrepo.NewKeySigner(k); err != nil {
			return nil, nil, err
		}
	}
	root, err := tufrepo.NewRoot(ctx, keys[0], keys[1].Public(), now.Add(devTUFRootLifetime))
	return keys[1], root, err
}

// tufSigner opens the online key: a key file or a Vault transit key. Of a
// transit key, it takes the newest version that root lists as the online
// key, so that a version added in Vault (by hand, or by an automatic
// rotation) does not take over until a root names it.
func tufSigner(ctx context.Context, vc *vault.Client, key string, root []byte) (tufrepo.Signer, error) {
	name, ok := (config.TUF{Key: key}).TransitKey()
	if !ok {
		return tufrepo.LoadKeyFile(key)
	}
	if vc == nil {
		return nil, errors.New("a transit key needs the CA in Vault")
	}
	info, found, err := vc.ReadKey(ctx, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("transit key %s does not exist", name)
	}
	for v := info.Latest; v >= 1; v-- {
		if pub, ok := info.Public[v]; ok && tufrepo.ListsOnlineKey(root, pub) {
			return TransitTUFSigner(ctx, vc, name, v)
		}
	}
	return TransitTUFSigner(ctx, vc, name, 0) // the root names none: New says so
}

// TransitTUFSigner is a TUF signer over version (0: the latest) of the
// Vault transit key name, ed25519 or ecdsa-p256; the key never leaves
// Vault.
func TransitTUFSigner(ctx context.Context, vc *vault.Client, name string, version int) (tufrepo.Signer, error) {
	s, err := vault.NewSigner(ctx, vc, name, version)
	if err != nil {
		return nil, err
	}
	version = s.Version()
	if err := tufrepo.CheckKeyType(s.Public()); err != nil {
		return nil, fmt.Errorf("transit key %s: %w", name, err)
	}
	_, ed := s.Public().(ed25519.PublicKey)
	return tufrepo.NewRemoteSigner(s.Public(), func(ctx context.Context, msg []byte) ([]byte, error) {
		if ed {
			return vc.SignMessage(ctx, name, version, msg)
		}
		sum := sha256.Sum256(msg)
		return s.SignDigest(ctx, sum[:], crypto.SHA256)
	})
}
