package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/keyless/client"
)

// StatementType is the in-toto Statement version signet attests with.
const StatementType = "https://in-toto.io/Statement/v1"

// SLSAProvenanceV1 is the predicate type of SLSA provenance v1, the
// default of `signet attest` and of `gh attestation verify`.
const SLSAProvenanceV1 = "https://slsa.dev/provenance/v1"

// statement is an in-toto Statement v1 over one subject.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// subject is an in-toto ResourceDescriptor naming an artifact by digest.
type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// newStatement builds the statement over an artifact called name with the
// given SHA-256; predicate must be one JSON object.
func newStatement(name string, sha256 []byte, predicateType string, predicate []byte) ([]byte, error) {
	if predicateType == "" {
		return nil, errors.New("--type must name the predicate type, e.g. " + SLSAProvenanceV1)
	}
	if u, err := url.Parse(predicateType); err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("--type %q is not a predicate type URI: give the whole URI, e.g. %s (cosign's short names are not predicate types)", predicateType, SLSAProvenanceV1)
	}
	var obj map[string]any
	if err := json.Unmarshal(predicate, &obj); err != nil {
		return nil, fmt.Errorf("predicate is not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, errors.New("predicate is not a JSON object: null")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, predicate); err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	return json.Marshal(statement{
		Type:          StatementType,
		Subject:       []subject{{Name: name, Digest: map[string]string{"sha256": hex.EncodeToString(sha256)}}},
		PredicateType: predicateType,
		Predicate:     compact.Bytes(),
	})
}

// attestCommand is `signet attest`: an in-toto statement over a file,
// signed as a DSSE envelope through the one-shot endpoint.
func attestCommand() *cobra.Command {
	var server, bundlePath, predicatePath, predicateType string
	var tf tokenFlags
	cmd := &cobra.Command{
		Use:   "attest FILE --predicate P.json",
		Short: "Attest to a file with an in-toto statement and write a DSSE Sigstore bundle",
		Long: `attest builds an in-toto Statement v1 whose subject is FILE (its base
name and SHA-256) and whose predicate is the JSON object in --predicate,
signs it as a DSSE envelope with an ephemeral key, and writes the bundle
signet returns as one JSON line (what gh attestation verify --bundle reads).
A statement over 256 KiB is never sent: the bundle is built here from a
certificate (/api/v2/signingCert) and a timestamp of the server's TSA.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if bundlePath == "" {
				bundlePath = path + ".intoto.sigstore.json"
			}
			if err := notTheArtifact(bundlePath, path); err != nil {
				return err
			}
			digest, err := fileSHA256(path)
			if err != nil {
				return err
			}
			predicate, err := os.ReadFile(predicatePath)
			if err != nil {
				return fmt.Errorf("read predicate: %w", err)
			}
			payload, err := newStatement(filepath.Base(path), digest[:], predicateType, predicate)
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
			signed, err := c.SignDSSE(ctx, token, bundle.InTotoPayloadType, payload)
			if err != nil {
				return err
			}
			line := append(bytes.TrimSpace(signed.Bundle), '\n')
			if bytes.Count(line, []byte("\n")) != 1 {
				return errors.New("server returned a bundle of several lines")
			}
			if err := writeFileAtomic(bundlePath, line); err != nil {
				return fmt.Errorf("write bundle: %w", err)
			}
			printIdentity(cmd.OutOrStdout(), "Attested to "+path+" as", signed.Leaf)
			fmt.Fprintf(cmd.OutOrStdout(), "Predicate: %s\nBundle: %s\n", predicateType, bundlePath)
			printLogIndex(cmd.OutOrStdout(), signed)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "signet server URL")
	cmd.Flags().StringVar(&bundlePath, "bundle", "", "bundle output path (default FILE.intoto.sigstore.json)")
	cmd.Flags().StringVar(&predicatePath, "predicate", "", "file holding the predicate, a JSON object")
	cmd.Flags().StringVar(&predicateType, "type", SLSAProvenanceV1, "predicate type URI")
	_ = cmd.MarkFlagRequired("predicate")
	tf.register(cmd)
	tf.registerTimeout(cmd)
	return cmd
}
