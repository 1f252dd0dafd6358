package main

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sigstore/fulcio/pkg/certificate"
	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/keyless/client"
)

// tokenFlags are how a client command gets its identity token.
type tokenFlags struct {
	token    string
	audience string
}

func (t *tokenFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.token, "identity-token", "", "OIDC identity token (default: ask the GitHub Actions runner)")
	cmd.Flags().StringVar(&t.audience, "audience", "sigstore", "audience to request from the GitHub Actions runner")
}

// get returns --identity-token, or a token from the GitHub Actions runner
// named by ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (t *tokenFlags) get(cmd *cobra.Command) (string, error) {
	if t.token != "" {
		return t.token, nil
	}
	reqURL, reqToken := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqToken == "" {
		return "", errors.New("no identity token: pass --identity-token, or run in GitHub Actions with `permissions: id-token: write`")
	}
	return client.GitHubActionsToken(cmd.Context(), nil, reqURL, reqToken, t.audience)
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
			digest, err := fileSHA256(path)
			if err != nil {
				return err
			}
			token, err := tf.get(cmd)
			if err != nil {
				return err
			}
			c := &client.Client{BaseURL: server}
			signed, err := c.SignArtifact(cmd.Context(), token, digest)
			if err != nil {
				return err
			}
			if bundlePath == "" {
				bundlePath = path + ".sigstore.json"
			}
			if err := os.WriteFile(bundlePath, append(signed.Bundle, '\n'), 0o644); err != nil {
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
	return cmd
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
