package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/cmd/signet/app"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/tufrepo"
)

func tufRotateRootCommand() *cobra.Command {
	var configPath, rootKeyPath, newRootKeyPath, onlineKey string
	var lifetime time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-root",
		Short: "Sign the next version of the TUF root, to extend its life or move it to a new root key",
		Long: `Sign the next version of the TUF root at tuf.root, as TUF rotates roots: the
same online key, the root role held by --new-root-key (made if missing; the
current key when not given, which only extends the root's life), expiring
--expires from now. It is signed by --root-key, the key of the current root
role, and by the new key, so that clients that pinned any earlier version
walk to it.

With --online-key the online roles move to another key (tuf.key is
updated): the way out of a leaked online key, or of metadata signed at a
version far ahead (a replica whose clock ran ahead), since clients drop
what the old key signed. Restart every replica onto it together: a replica
still on the old key serves metadata the new root refuses.

The current version is kept beside tuf.root as N.root.json, and the new one
replaces tuf.root. Every replica must serve the new root and all earlier
N.root.json files: copy them all to each replica's tuf.root directory, then
restart the replicas one by one. A root must be rotated before it expires;
an expired root keeps /tuf/ closed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			if cfg.TUF.Root == "" {
				return fmt.Errorf("%s has no tuf.root: run `signet tuf init` first", configPath)
			}
			if tufrepo.IsVersionedRootName(cfg.TUF.Root) {
				return fmt.Errorf("tuf.root %s is named like an earlier root version (N.root.json), which a rotation keeps beside it: rename it, e.g. tuf-root.json", cfg.TUF.Root)
			}
			current, err := os.ReadFile(cfg.TUF.Root)
			if err != nil {
				return fmt.Errorf("tuf.root: %w", err)
			}
			if lifetime < 24*time.Hour {
				return fmt.Errorf("--expires %s: a root must last at least a day", lifetime)
			}
			rootKey, err := tufrepo.LoadKeyFile(rootKeyPath)
			if err != nil {
				return fmt.Errorf("--root-key: %w", err)
			}
			// A new root key is written only once the rotation succeeded.
			newKey, newPrivate := rootKey, ed25519.PrivateKey(nil)
			if newRootKeyPath != "" {
				if newKey, newPrivate, err = loadOrMakeTUFKey(newRootKeyPath); err != nil {
					return fmt.Errorf("--new-root-key: %w", err)
				}
			}
			var online crypto.PublicKey
			if onlineKey != "" {
				s, err := openOnlineKey(cmd.Context(), cfg, onlineKey)
				if err != nil {
					return fmt.Errorf("--online-key %s: %w", onlineKey, err)
				}
				online = s.Public()
			}
			expires := time.Now().Add(lifetime)
			next, err := tufrepo.RotateRoot(cmd.Context(), current, rootKey, newKey, online, expires)
			if err != nil {
				return err
			}
			earlier, err := tufrepo.EarlierRoots(cfg.TUF.Root)
			if err != nil {
				return err
			}
			// What the server will check at start: versions 1 to the new
			// one, each leading to the next.
			if !slices.ContainsFunc(earlier, func(b []byte) bool { return bytes.Equal(b, current) }) {
				earlier = append(earlier, current) // kept below, unless an earlier run kept it
			}
			if err := tufrepo.CheckRootChain(next, earlier); err != nil {
				return fmt.Errorf("the roots beside %s would not let clients reach the new version: %w", cfg.TUF.Root, err)
			}
			version, err := tufrepo.RootVersion(current)
			if err != nil {
				return err
			}
			if newPrivate != nil {
				if err := tufrepo.WriteKeyFile(newRootKeyPath, newPrivate); err != nil {
					return fmt.Errorf("--new-root-key: %w", err)
				}
			}
			kept := tufrepo.VersionedRootPath(cfg.TUF.Root, version)
			if err := keepEarlierRoot(kept, current); err != nil {
				return err
			}
			if err := writeFileAtomic(cfg.TUF.Root, next); err != nil {
				return fmt.Errorf("write %s: %w", cfg.TUF.Root, err)
			}
			if onlineKey != "" && onlineKey != cfg.TUF.Key {
				cfg.TUF.Key = onlineKey
				if err := writeConfig(cfg, configPath); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if newPrivate != nil {
				fmt.Fprintf(w, "Made the new TUF root key %s: keep it offline\n", newRootKeyPath)
			}
			fmt.Fprintf(w, "Wrote TUF root version %d to %s (expires %s); version %d is kept in %s\n",
				version+1, cfg.TUF.Root, expires.UTC().Format(time.RFC3339), version, kept)
			fmt.Fprintf(w, "Copy both to every replica and restart them one by one; clients follow from %s%s\n", cfg.EffectivePublicURL(), app.TUFPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "signet.yaml", "the server's config, whose tuf.root is rotated")
	cmd.Flags().StringVar(&rootKeyPath, "root-key", "", "PEM private key of the current root role")
	cmd.Flags().StringVar(&newRootKeyPath, "new-root-key", "", "PEM private key of the new root role (made when missing; default: --root-key)")
	cmd.Flags().DurationVar(&lifetime, "expires", 365*24*time.Hour, "how long the new root is valid")
	cmd.Flags().StringVar(&onlineKey, "online-key", "", "a new online key for the targets, snapshot and timestamp roles, written as tuf.key: a key file (made when missing) or transit:NAME (its latest version; created when missing)")
	_ = cmd.MarkFlagRequired("root-key")
	return cmd
}

// openOnlineKey opens (or makes) the online key key names, connecting to
// Vault for a transit key as the server does.
func openOnlineKey(ctx context.Context, cfg *config.Config, key string) (tufrepo.Signer, error) {
	var vc *vault.Client
	if _, transit := (config.TUF{Key: key}).TransitKey(); transit {
		var err error
		if vc, err = connectVault(ctx, cfg); err != nil {
			return nil, err
		}
		defer vc.Close()
	}
	return ensureTUFOnlineKey(ctx, key, vc)
}

// keepEarlierRoot writes the replaced root version to path, unless that
// very version is already there; another file there is refused.
func keepEarlierRoot(path string, root []byte) error {
	have, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := writeFileAtomic(path, root); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	case err != nil:
		return err
	case !bytes.Equal(have, root):
		return fmt.Errorf("%s exists and is not the current root: an earlier rotation was undone? Move it away after checking which root clients pinned", path)
	}
	return nil
}
