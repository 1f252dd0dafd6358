package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/sigstore/fulcio/pkg/certificate"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/cmd/signet/app"
	"github.com/signet-dev/signet/keyless/client"
)

func verifyCommand() *cobra.Command {
	var bundlePath, trustedRootPath, server, tufRoot, tufCache string
	var want bundle.Identity
	var printStatement, insecureServerRoot bool
	var predicateType string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a file's Sigstore bundle offline against a trusted root",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundlePath == "" {
				bundlePath = args[0] + ".sigstore.json"
			}
			b, err := os.ReadFile(bundlePath)
			if err != nil {
				return fmt.Errorf("read bundle: %w", err)
			}
			var tr []byte
			switch {
			case trustedRootPath != "":
				tr, err = os.ReadFile(trustedRootPath)
			case tufRoot != "" && server == "":
				err = errors.New("--tuf-root needs --server URL, the server whose TUF repository it pins")
			case tufRoot != "":
				tr, err = trustedRootOverTUF(server, tufRoot, tufCache)
			case server != "" && !insecureServerRoot:
				err = errors.New("--server without --tuf-root would trust whatever trusted root the server sends, signed by nobody: " +
					"pin its TUF root with --tuf-root root.json (from `signet tuf init`), give --trusted-root FILE, " +
					"or take that risk with --insecure-server-root")
			case server != "":
				tr, err = (&client.Client{BaseURL: server}).Get(cmd.Context(), "/api/v1/trustedroot")
			default:
				err = errors.New("give --trusted-root FILE, or --server URL with --tuf-root root.json")
			}
			if err != nil {
				return fmt.Errorf("trusted root: %w", err)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			res, err := bundle.Verify(b, tr, f, want)
			if err != nil {
				return fmt.Errorf("verification failed: %w", err)
			}
			if predicateType != "" && (res.Statement == nil || res.Statement.GetPredicateType() != predicateType) {
				got := "a message signature, not an attestation"
				if res.Statement != nil {
					got = fmt.Sprintf("predicate type %q", res.Statement.GetPredicateType())
				}
				return fmt.Errorf("verification failed: the bundle holds %s, want an attestation of predicate type %s", got, predicateType)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Verified OK: %s\n", args[0])
			if res.Signature != nil && res.Signature.Certificate != nil {
				fmt.Fprintf(out, "  identity: %s\n  issuer: %s\n", res.Signature.Certificate.SubjectAlternativeName, res.Signature.Certificate.Issuer)
			}
			for _, ts := range res.VerifiedTimestamps {
				fmt.Fprintf(out, "  timestamp: %s (%s)\n", ts.Timestamp.UTC().Format("2006-01-02T15:04:05Z"), ts.URI)
			}
			if leaf, err := bundle.LeafCertificate(b); err == nil {
				exts, err := certificate.ParseExtensions(leaf.Extensions)
				if err != nil {
					return fmt.Errorf("certificate extensions: %w", err)
				}
				printExtensions(out, exts)
			}
			if printStatement && res.Statement != nil {
				fmt.Fprintf(out, "  statement type: %s\n  predicate type: %s\n", res.Statement.GetType(), res.Statement.GetPredicateType())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&bundlePath, "bundle", "", "bundle path (default FILE.sigstore.json)")
	cmd.Flags().StringVar(&trustedRootPath, "trusted-root", "", "trusted_root.json to verify against")
	cmd.Flags().StringVar(&server, "server", "", "fetch the trusted root from this signet server over TUF (with --tuf-root)")
	cmd.Flags().BoolVar(&insecureServerRoot, "insecure-server-root", false, "with --server and no --tuf-root, trust the trusted root the server sends unsigned (whoever controls the server or the network then decides what verifies)")
	cmd.Flags().StringVar(&tufRoot, "tuf-root", "", "TUF root.json pinned for --server (`signet tuf init` wrote it); the trusted root is then fetched signed, fresh and rollback-protected")
	cmd.Flags().StringVar(&tufCache, "tuf-cache", "", "TUF metadata cache, which keeps rollback protection between runs (default: the user cache dir's signet/tuf)")
	cmd.Flags().StringVar(&want.SAN, "certificate-identity", "", "expected identity (SAN), exactly")
	cmd.Flags().StringVar(&want.SANRegexp, "certificate-identity-regexp", "", "expected identity (SAN), as a regular expression")
	cmd.Flags().StringVar(&want.Issuer, "certificate-oidc-issuer", "", "expected OIDC issuer, exactly")
	cmd.Flags().StringVar(&want.IssuerRegexp, "certificate-oidc-issuer-regexp", "", "expected OIDC issuer, as a regular expression")
	cmd.Flags().BoolVar(&printStatement, "print-statement", false, "print the in-toto statement of a DSSE bundle")
	cmd.Flags().StringVar(&predicateType, "type", "", "require an in-toto attestation of this predicate type URI (e.g. https://slsa.dev/provenance/v1)")
	return cmd
}

// trustedRootOverTUF fetches the server's trusted_root.json target from
// its TUF repository at server+"/tuf", trusting the root in rootPath, with
// sigstore-go's TUF client (go-tuf underneath); the cache keeps the
// versions seen, so a later rollback is refused.
func trustedRootOverTUF(server, rootPath, cacheDir string) ([]byte, error) {
	root, err := os.ReadFile(rootPath)
	if err != nil {
		return nil, err
	}
	if cacheDir == "" {
		if cacheDir, err = os.UserCacheDir(); err != nil {
			return nil, fmt.Errorf("no cache directory (give --tuf-cache): %w", err)
		}
		cacheDir = filepath.Join(cacheDir, "signet", "tuf")
	}
	opts := tuf.DefaultOptions()
	opts.Root = root
	opts.RepositoryBaseURL = strings.TrimSuffix(server, "/") + "/tuf"
	opts.CachePath = cacheDir
	opts.CacheValidity = tuf.NoCache
	c, err := tuf.New(opts)
	if err != nil {
		return nil, fmt.Errorf("TUF update from %s: %w", opts.RepositoryBaseURL, err)
	}
	tr, err := c.GetTarget(app.TrustedRootTarget)
	if err != nil {
		return nil, fmt.Errorf("TUF target %s: %w", app.TrustedRootTarget, err)
	}
	return tr, nil
}

// printExtensions prints every non-empty Fulcio extension.
func printExtensions(w io.Writer, exts certificate.Extensions) {
	v := reflect.ValueOf(exts)
	for i := range v.NumField() {
		if s := v.Field(i).String(); s != "" && v.Type().Field(i).Name != "Issuer" {
			fmt.Fprintf(w, "  %s: %s\n", v.Type().Field(i).Name, s)
		}
	}
}
