package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/fulcio/pkg/certificate"
	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/keyless/client"
)

// tokenFlags are how a client command gets its identity token, and how
// long it may take, retries included.
type tokenFlags struct {
	token    string
	audience string
	timeout  time.Duration
}

func (t *tokenFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.token, "identity-token", "", "OIDC identity token (default: ask the GitHub Actions runner)")
	cmd.Flags().StringVar(&t.audience, "audience", "sigstore", "audience to request from the GitHub Actions runner")
}

// registerTimeout adds --timeout, for a command that signs once.
func (t *tokenFlags) registerTimeout(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&t.timeout, "timeout", 3*time.Minute, "give up after this long, retries of a busy server (429, 503) included")
}

// bound is the command's context, bounded by --timeout.
func (t *tokenFlags) bound(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), t.timeout)
}

// get returns --identity-token, or a token from the GitHub Actions runner
// named by ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (t *tokenFlags) get(ctx context.Context) (string, error) {
	if t.token != "" {
		return t.token, nil
	}
	reqURL, reqToken := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqToken == "" {
		return "", errors.New("no identity token: pass --identity-token, or run in GitHub Actions with `permissions: id-token: write`")
	}
	return client.GitHubActionsToken(ctx, nil, reqURL, reqToken, t.audience)
}

func signCommand() *cobra.Command {
	var server, bundlePath string
	var tf tokenFlags
	cmd := &cobra.Command{
		Use:   "sign FILE",
		Short: "Sign a file with an ephemeral key and write a Sigstore bundle",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if bundlePath == "" {
				bundlePath = path + ".sigstore.json"
			}
			if err := notTheArtifact(bundlePath, path); err != nil {
				return err
			}
			digest, err := fileSHA256(path)
			if err != nil {
				return err
			}
			ctx, cancel := tf.bound(cmd)
			defer cancel()
			token, err := tf.get(ctx)
			if err != nil {
				return err
			}
			c := &client.Client{BaseURL: server}
			signed, err := c.SignArtifact(ctx, token, digest)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(bundlePath, append(signed.Bundle, '\n')); err != nil {
				return fmt.Errorf("write bundle: %w", err)
			}
			printIdentity(cmd.OutOrStdout(), "Signed "+path+" as", signed.Leaf)
			fmt.Fprintf(cmd.OutOrStdout(), "Bundle: %s\n", bundlePath)
			printLogIndex(cmd.OutOrStdout(), signed)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "signet server URL")
	cmd.Flags().StringVar(&bundlePath, "bundle", "", "bundle output path (default FILE.sigstore.json)")
	tf.register(cmd)
	tf.registerTimeout(cmd)
	return cmd
}

// notTheArtifact refuses a bundle path that names the artifact itself,
// which writing the bundle would destroy.
func notTheArtifact(bundlePath, artifact string) error {
	a, err := os.Stat(artifact)
	if err != nil {
		return err
	}
	if b, err := os.Stat(bundlePath); err == nil && os.SameFile(a, b) {
		return fmt.Errorf("--bundle %s is the file being signed: writing the bundle would overwrite it", bundlePath)
	}
	return nil
}

// writeFileAtomic writes data to path whole or not at all: a temporary
// file in the same directory, synced, then renamed over path, so that a
// failure (a full disk, a killed job) leaves the previous file, not half
// a bundle.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func fileSHA256(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, fmt.Errorf("read %s: %w", path, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// printIdentity prints the certified identity of a leaf certificate.
func printIdentity(w io.Writer, prefix string, leaf *x509.Certificate) {
	san := ""
	switch {
	case len(leaf.URIs) > 0:
		san = leaf.URIs[0].String()
	case len(leaf.EmailAddresses) > 0:
		san = leaf.EmailAddresses[0]
	}
	exts, _ := certificate.ParseExtensions(leaf.Extensions)
	fmt.Fprintf(w, "%s %s\n  issuer: %s\n", prefix, san, exts.Issuer)
}

// printLogIndex says where the certificate is in the issuance log, for
// `signet audit prove`.
func printLogIndex(w io.Writer, signed *client.Signed) {
	if signed.LogIndex >= 0 {
		fmt.Fprintf(w, "Log index: %d\n", signed.LogIndex)
	}
}
