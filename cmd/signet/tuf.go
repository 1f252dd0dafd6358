package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/cmd/signet/app"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/tufrepo"
)

func tufCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tuf", Short: "Manage the TUF repository that publishes signet's trust documents"}
	cmd.AddCommand(tufInitCommand(), tufRotateRootCommand())
	return cmd
}

func tufInitCommand() *cobra.Command {
	var configPath, rootKeyPath, out string
	var lifetime time.Duration
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write the TUF root.json verifiers pin, and the online key the server signs with",
		Long: `Write version 1 of the TUF root that verifiers pin (cosign initialize --root,
sigstore-go's tuf.Options.Root, sigstore-js's tufRootPath, signet verify --tuf-root).

The root role is held by --root-key alone (a PEM private key, Ed25519 or ECDSA
P-256; made if missing): keep it offline, it is needed again only to sign a
new root. The targets, snapshot and timestamp roles are held by the online key
of tuf.key, which every replica signs with: with the CA in Vault, the transit
ed25519 key signet-tuf (created if missing; it never leaves Vault), else a key
file next to the config (made if missing). The online key signs targets too,
so replicas publish a rotated trusted root on their own. tuf.key and tuf.root
are added to the config when it lacks them. An existing root is never
overwritten without --force: verifiers may have pinned it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			var vc *vault.Client
			if cfg.CA.Type == config.BackendVault {
				if vc, err = connectVault(ctx, cfg); err != nil {
					return err
				}
				defer vc.Close()
			}
			if out != "" && cfg.TUF.Root == "" {
				cfg.TUF.Root = out // the root the server serves is the one verifiers pin
			}
			changed := fillTUFConfig(cfg, filepath.Dir(configPath), vc != nil)
			if out == "" {
				out = cfg.TUF.Root
			}
			if tufrepo.IsVersionedRootName(out) {
				return fmt.Errorf("%s is named like an earlier root version (N.root.json), which `signet tuf rotate-root` keeps beside the current root: name it otherwise, e.g. tuf-root.json", out)
			}
			if filepath.Clean(out) != filepath.Clean(cfg.TUF.Root) {
				return fmt.Errorf("--out %s is not the config's tuf.root %s, which the server serves: give one of them", out, cfg.TUF.Root)
			}
			if _, err := os.Stat(out); err == nil && !force {
				return fmt.Errorf("%s exists and verifiers may have pinned it: give --force to replace it", out)
			}
			if earlier, err := tufrepo.EarlierRoots(out); err == nil && len(earlier) > 0 {
				return fmt.Errorf("earlier root versions (N.root.json) lie beside %s: a new version 1 would not follow them; use `signet tuf rotate-root`, or move them away first", out)
			}
			online, err := ensureTUFOnlineKey(ctx, cfg.TUF.Key, vc)
			if err != nil {
				return fmt.Errorf("tuf.key %s: %w", cfg.TUF.Key, err)
			}
			rootKey, made, err := ensureTUFKeyFile(rootKeyPath)
			if err != nil {
				return fmt.Errorf("--root-key: %w", err)
			}
			root, err := tufrepo.NewRoot(ctx, rootKey, online.Public(), time.Now().Add(lifetime))
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, root, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			if changed {
				if err := writeConfig(cfg, configPath); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if made {
				fmt.Fprintf(w, "Made the TUF root key %s: keep it offline\n", rootKeyPath)
			}
			fmt.Fprintf(w, "Wrote the TUF root %s (expires %s); online key %s\n", out, time.Now().Add(lifetime).UTC().Format(time.RFC3339), cfg.TUF.Key)
			fmt.Fprintf(w, "Verifiers pin it: cosign initialize --mirror %s%s --root %s\n", cfg.EffectivePublicURL(), app.TUFPath, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "signet.yaml", "the server's config (tuf.key and tuf.root are added when missing)")
	cmd.Flags().StringVar(&rootKeyPath, "root-key", "", "PEM private key of the root role (made when missing); keep it offline")
	cmd.Flags().StringVar(&out, "out", "", "where to write root.json (default: tuf.root of the config)")
	cmd.Flags().DurationVar(&lifetime, "expires", 365*24*time.Hour, "how long the root is valid")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing root.json")
	_ = cmd.MarkFlagRequired("root-key")
	return cmd
}

// fillTUFConfig sets tuf.key and tuf.root when missing: the transit key
// config.TUFTransitKey for a Vault CA, else files next to the config. It
// reports whether it changed the config.
func fillTUFConfig(cfg *config.Config, base string, inVault bool) bool {
	changed := false
	if cfg.TUF.Key == "" {
		cfg.TUF.Key = filepath.Join(base, "signet-tuf.key")
		if inVault {
			cfg.TUF.Key = config.TransitKeyPrefix + config.TUFTransitKey
		}
		changed = true
	}
	if cfg.TUF.Root == "" {
		cfg.TUF.Root = filepath.Join(base, "tuf-root.json")
		changed = true
	}
	return changed
}

// ensureTUFOnlineKey opens the online key, creating it when missing: a
// transit ed25519 key, or an Ed25519 key file.
func ensureTUFOnlineKey(ctx context.Context, key string, vc *vault.Client) (tufrepo.Signer, error) {
	name, ok := (config.TUF{Key: key}).TransitKey()
	if !ok {
		s, _, err := ensureTUFKeyFile(key)
		return s, err
	}
	if vc == nil {
		return nil, errors.New("a transit key needs the CA in Vault")
	}
	if _, exists, err := vc.ReadKey(ctx, name); err != nil {
		return nil, err
	} else if !exists {
		if _, err := vc.EnsureKey(ctx, name, "ed25519", false); err != nil {
			return nil, err
		}
	}
	return app.TransitTUFSigner(ctx, vc, name, 0)
}

// ensureTUFKeyFile loads the role key at path, or makes an Ed25519 one
// there when no file exists; made says which.
func ensureTUFKeyFile(path string) (s tufrepo.Signer, made bool, err error) {
	s, priv, err := loadOrMakeTUFKey(path)
	if err != nil || priv == nil {
		return s, false, err
	}
	if err := tufrepo.WriteKeyFile(path, priv); err != nil {
		return nil, false, err
	}
	return s, true, nil
}

// loadOrMakeTUFKey is the key at path, or, when no file is there, a new
// Ed25519 key returned with its private key, for the caller to write once
// it is used.
func loadOrMakeTUFKey(path string) (tufrepo.Signer, ed25519.PrivateKey, error) {
	if _, err := os.Stat(path); err == nil {
		s, err := tufrepo.LoadKeyFile(path)
		return s, nil, err
	}
	k, err := tufrepo.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	s, err := tufrepo.NewKeySigner(k)
	return s, k, err
}

// writeConfig writes cfg back to path.
func writeConfig(cfg *config.Config, path string) error {
	doc, err := cfg.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
