package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/provision"
	"github.com/signet-dev/signet/issuancelog"
)

func caCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "Bootstrap and manage signet's CA and TSA keys"}
	cmd.AddCommand(caInitCommand(), caImportChainCommand())
	return cmd
}

// loadOrDefault reads path when it exists, so that re-running keeps the
// operator's other settings; else it starts from the defaults.
func loadOrDefault(path string) (*config.Config, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return config.Default(), nil
	}
	return config.Load(path)
}

// connectVault logs in with the config's Vault settings and VAULT_* variables.
func connectVault(ctx context.Context, cfg *config.Config) (*vault.Client, error) {
	cfg.Vault.FromEnv(os.LookupEnv)
	cfg.Vault.ApplyDefaults()
	return vault.Connect(ctx, cfg.Vault, newLogger(slog.LevelWarn))
}

func caInitCommand() *cobra.Command {
	var backend, out, csrOut, tsaCSROut, publicURL string
	var opts provision.InitOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the CA and TSA keys in Vault transit, issue their chains (or CSRs for an offline root) and write signet.yaml",
		Long: `Create the CA and TSA keys and chains and write a ready-to-run config.

With --backend vault (VAULT_ADDR and VAULT_TOKEN set), it enables transit and
KV v2 if needed, creates non-exportable transit keys for a root, the issuing
CA and the TSA, issues the chains (the root key also lives in Vault; with
--external-root no root key is made: it writes a CSR for the CA key and one
for the TSA key for an offline root to sign, see 'signet ca import-chain'),
stores them in KV so that every replica reads the
same ones, and writes --out. Key names and chain paths that --out already
names are kept. Running it again changes nothing unless --rotate is given;
it checks that the stored chains still certify their keys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if backend != config.BackendVault {
				return fmt.Errorf("--backend %q: only vault is supported (memory and file backends need no bootstrap)", backend)
			}
			cfg, err := loadOrDefault(out)
			if err != nil {
				return err
			}
			if opts.Org == "" {
				opts.Org = cfg.Organization
			}
			// A config that already names Vault keys and chain paths keeps
			// them: a rerun must not move the deployment to the defaults.
			if cfg.CA.Type == config.BackendVault {
				opts.CAKey, opts.CAChainPath = cfg.CA.Key, cfg.CA.ChainPath
			}
			if cfg.TSA.Backend.Type == config.BackendVault {
				opts.TSAKey, opts.TSAChainPath = cfg.TSA.Backend.Key, cfg.TSA.Backend.ChainPath
			}
			mixedTSA := cfg.CA.Type == config.BackendVault && cfg.TSA.Backend.Type != config.BackendVault
			opts.NoTSA = mixedTSA
			if publicURL != "" {
				cfg.PublicURL = strings.TrimSuffix(publicURL, "/")
			}
			vc, err := connectVault(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer vc.Close()
			res, err := provision.Init(cmd.Context(), vc, opts)
			if err != nil {
				return err
			}
			cfg.Organization = opts.Org
			cfg.Vault.Address = vc.Config().Address
			// No key-version: every replica follows the version recorded
			// with the chain in KV, so a rotation needs no config change.
			cfg.CA = config.Backend{Type: config.BackendVault, Key: res.CA.Key, ChainPath: res.CA.ChainPath}
			// A config whose CA is already in Vault and whose TSA is not (a
			// memory or file key: a mix the config allows) keeps its TSA.
			if !mixedTSA {
				cfg.TSA.Backend = config.Backend{Type: config.BackendVault, Key: res.TSA.Key, ChainPath: res.TSA.ChainPath}
			}
			logKey, err := ensureLogKey(cmd.Context(), cfg, out, vc)
			if err != nil {
				return err
			}
			doc, err := cfg.Marshal()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, doc, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			w := cmd.OutOrStdout()
			if res.CACSR != nil {
				if err := os.WriteFile(csrOut, res.CACSR, 0o644); err != nil {
					return fmt.Errorf("write %s: %w", csrOut, err)
				}
				fmt.Fprintf(w, "CA key %s v%d: CSR written to %s; have the offline root sign it as an intermediate CA (code signing), then run `signet ca import-chain --config %s --chain CHAIN.pem`\n",
					res.CA.Key, res.CA.Version, csrOut, out)
			}
			if res.TSACSR != nil {
				if err := os.WriteFile(tsaCSROut, res.TSACSR, 0o644); err != nil {
					return fmt.Errorf("write %s: %w", tsaCSROut, err)
				}
				fmt.Fprintf(w, "TSA key %s v%d: CSR written to %s; have the offline root sign it as a timestamping certificate (not a CA; extended key usage timeStamping only, critical), then run `signet ca import-chain --tsa --config %s --chain CHAIN.pem`\n",
					res.TSA.Key, res.TSA.Version, tsaCSROut, out)
			}
			state := "unchanged"
			if res.Changed {
				state = "created"
			}
			tsaSetup := fmt.Sprintf("TSA key %s v%d (chain %s)", res.TSA.Key, res.TSA.Version, res.TSA.ChainPath)
			if mixedTSA {
				tsaSetup = "TSA kept as the config's " + cfg.TSA.Backend.Type + " key"
			}
			fmt.Fprintf(w, "Vault setup %s: CA key %s v%d (chain %s), %s\nWrote %s\n",
				state, res.CA.Key, res.CA.Version, res.CA.ChainPath, tsaSetup, out)
			if logKey != "" {
				fmt.Fprintf(w, "Issuance log %s, verifier key (pin it for `signet audit`): %s\n", cfg.Log.Dir, logKey)
				if cfg.PublicURL == "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: the log's origin %s comes from the default listen address, not from a public URL, and can never change: "+
						"give --public-url (or public-url in %s) before the log holds certificates you keep\n", cfg.Log.Origin, out)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&backend, "backend", config.BackendVault, "key backend to bootstrap (vault)")
	cmd.Flags().StringVar(&out, "out", "signet.yaml", "config file to write (kept settings are read from it when it exists)")
	cmd.Flags().StringVar(&csrOut, "csr-out", "signet-ca.csr", "where --external-root writes the CA's CSR")
	cmd.Flags().StringVar(&tsaCSROut, "tsa-csr-out", "signet-tsa.csr", "where --external-root writes the TSA's CSR")
	cmd.Flags().StringVar(&opts.Org, "org", "", "organisation (O) of every certificate (default: the config's, else signet)")
	cmd.Flags().StringVar(&opts.KeyType, "key-type", "ecdsa-p384", "transit key type of new keys: ecdsa-p384 or ecdsa-p256")
	cmd.Flags().BoolVar(&opts.ExternalRoot, "external-root", false, "write CSRs of the CA and TSA keys for an offline root; make no root key in Vault")
	cmd.Flags().BoolVar(&opts.Rotate, "rotate", false, "create new CA and TSA key versions and chains")
	cmd.Flags().StringVar(&publicURL, "public-url", "", "the URL clients reach signet at, written as public-url; the issuance log's origin is made from it")
	return cmd
}

func caImportChainCommand() *cobra.Command {
	var configPath, chainPath string
	var forTSA bool
	cmd := &cobra.Command{
		Use:   "import-chain",
		Short: "Store the chain an offline root signed for the Vault CA key (or, with --tsa, the TSA key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			backend, role := cfg.CA, "ca"
			if forTSA {
				backend, role = cfg.TSA.Backend, "tsa"
			}
			if backend.Type != config.BackendVault {
				return fmt.Errorf("%s: %s.type is %q, not vault", configPath, role, backend.Type)
			}
			pemData, err := os.ReadFile(chainPath)
			if err != nil {
				return err
			}
			chain, err := pki.ParseCertificatesPEM(pemData)
			if err != nil {
				return fmt.Errorf("%s: %w", chainPath, err)
			}
			vc, err := connectVault(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer vc.Close()
			ref := provision.KeyRef{Key: backend.Key, Version: backend.KeyVersion, ChainPath: backend.ChainPath}
			if forTSA {
				err = provision.ImportTSAChain(cmd.Context(), vc, ref, chain, time.Now())
			} else {
				err = provision.ImportChain(cmd.Context(), vc, ref, chain)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Stored the chain of %q at %s\n", chain[0].Subject, backend.ChainPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "signet.yaml", "config written by `signet ca init`")
	cmd.Flags().StringVar(&chainPath, "chain", "", "PEM chain: the CA (or TSA) certificate first, the offline root last")
	cmd.Flags().BoolVar(&forTSA, "tsa", false, "the chain is the TSA key's timestamping chain, not the CA's")
	_ = cmd.MarkFlagRequired("chain")
	return cmd
}

// ensureLogKey gives a config without an issuance log one: a directory
// next to the config file and a checkpoint key. With a Vault CA (vc set)
// the key is the transit ed25519 key provision.LogKey, written as
// log.key: transit:signet-log; else a note key file next to the config.
// Either key is kept when it exists, so a rerun changes nothing. It
// returns the log's verifier key: "" when the config already had a log
// with a key file or turned it off. Several replicas need log.dir on a
// filesystem they share.
func ensureLogKey(ctx context.Context, cfg *config.Config, out string, vc *vault.Client) (string, error) {
	if name, ok := cfg.Log.TransitKey(); ok && vc != nil && cfg.Log.Type != issuancelog.TypeOff {
		// Configured by an earlier run: keep it, check the key is there.
		return transitLogVerifierKey(ctx, vc, name, cfg.EffectiveLog().Origin)
	}
	if cfg.Log.Type != "" || cfg.Log.Dir != "" || cfg.Log.Key != "" {
		return "", nil
	}
	// Absolute: a replica started in another directory must find this
	// log, not start a second one under the same key.
	base, err := filepath.Abs(filepath.Dir(out))
	if err != nil {
		return "", err
	}
	cfg.Log.Dir = filepath.Join(base, "signet-log")
	origin := cfg.EffectiveLog().Origin
	cfg.Log.Origin = origin // the key's name: fixed, whatever address serve listens on
	if cfg.CA.Type == config.BackendVault && vc != nil {
		cfg.Log.Key = config.TransitKeyPrefix + provision.LogKey
		return transitLogVerifierKey(ctx, vc, provision.LogKey, origin)
	}
	cfg.Log.Key = filepath.Join(base, "signet-log.key")
	if signer, err := issuancelog.LoadKeySigner(cfg.Log.Key); err == nil {
		return signer.VerifierKey(), nil
	}
	signer, skey, err := issuancelog.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(cfg.Log.Key, []byte(skey+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", cfg.Log.Key, err)
	}
	return signer.VerifierKey(), nil
}

// transitLogVerifierKey creates the transit ed25519 key name unless it
// exists and returns the note verifier key of its latest version under
// origin.
func transitLogVerifierKey(ctx context.Context, vc *vault.Client, name, origin string) (string, error) {
	pub, err := provision.EnsureLogKey(ctx, vc, name)
	if err != nil {
		return "", fmt.Errorf("issuance log key: %w", err)
	}
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return "", fmt.Errorf("issuance log key: %w", err)
	}
	return vkey, nil
}
