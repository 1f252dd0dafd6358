package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/issuancelog/audit"
)

// logPath is where a signet server serves its issuance log.
const logPath = "/api/v1/log"

// Exit statuses of the audit commands other than 0 (success) and 1 (the
// audit could not be completed: a log that cannot be read, a bad flag).
const (
	// exitNotIdentity is `audit search --not-identity` having found
	// certificates outside the expected identities.
	exitNotIdentity = 3
	// exitInconsistent is a log proven to have forked, shrunk or served
	// entries or tiles its signed checkpoint does not commit to.
	exitInconsistent = 4
)

// auditExit gives err the exit status of a proven inconsistency.
func auditExit(err error) error {
	if err != nil && errors.Is(err, audit.ErrInconsistent) {
		return &exitError{code: exitInconsistent, err: err}
	}
	return err
}

// exitError is an error that asks main to exit with a status other than 1.
type exitError struct {
	code int
	err  error
}

// Error returns the message of the wrapped error.
func (e *exitError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error.
func (e *exitError) Unwrap() error { return e.err }

// auditFlags are the flags every audit subcommand shares: where the log
// is and the key that must sign its checkpoints.
type auditFlags struct {
	server string
	logKey string
}

// register adds --server and --log-key to cmd, both required.
func (f *auditFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "", "signet server URL (the log is read from URL"+logPath+"); a directory or file:// URL reads a copy of the log directory offline")
	cmd.Flags().StringVar(&f.logKey, "log-key", "", "the log's pinned verifier key (name+hash+base64, as served at "+logPath+"/key), or a file holding it")
	_ = cmd.MarkFlagRequired("server")
	_ = cmd.MarkFlagRequired("log-key")
}

// client returns an audit client of the log, and a function that closes
// its idle connections, to call when done.
func (f *auditFlags) client() (*audit.Client, func(), error) {
	key, err := readLogKey(f.logKey)
	if err != nil {
		return nil, nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	hc := &http.Client{Transport: tr, Timeout: time.Minute, CheckRedirect: sameOriginRedirect}
	c, err := audit.New(logBaseURL(f.server), key, hc)
	if err != nil {
		return nil, nil, err
	}
	return c, tr.CloseIdleConnections, nil
}

// sameOriginRedirect follows a log's redirects only to the same scheme
// and host, at most 5: everything read is checked against the pinned key,
// but a redirect elsewhere, or from https to http, would let whoever
// answers there choose which signed checkpoint an auditor sees.
func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case len(via) >= 5:
		return errors.New("stopped after 5 redirects")
	case req.URL.Scheme != first.Scheme || req.URL.Host != first.Host:
		return fmt.Errorf("refusing a redirect from %s://%s to %s://%s: a log is read from one origin", first.Scheme, first.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// logBaseURL returns the base URL of the log of the signet server at
// server. A URL already ending in /api/v1/log, a file:// URL and a
// directory are taken as they are.
func logBaseURL(server string) string {
	if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
		return server
	}
	server = strings.TrimRight(server, "/")
	if strings.HasSuffix(server, logPath) {
		return server
	}
	return server + logPath
}

// readLogKey returns the verifier key k, or the one held in the file k,
// without surrounding white space.
func readLogKey(k string) (string, error) {
	k = strings.TrimSpace(k)
	if _, err := note.NewVerifier(k); err == nil {
		return k, nil
	}
	b, err := os.ReadFile(k)
	if err != nil {
		return "", fmt.Errorf("--log-key %q is neither a note verifier key (name+hash+base64) nor a readable file: %w", k, err)
	}
	key := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(key); err != nil {
		return "", fmt.Errorf("--log-key file %s does not hold a note verifier key (name+hash+base64): %w", k, err)
	}
	return key, nil
}

// b64 renders a hash as tlog checkpoints do.
func b64(h []byte) string { return base64.StdEncoding.EncodeToString(h) }

// auditCommand is `signet audit`, which checks an issuance log from the
// outside with nothing but its URL and its pinned verifier key.
func auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Audit the issuance log: verify its checkpoints, search its certificates, prove a bundle's inclusion",
		Long: `Audit a signet issuance log with nothing but the server's URL and the log's
pinned verifier key (--log-key, the name+hash+base64 string that the server
serves at ` + logPath + `/key and ca init writes; pin it, do not fetch it at
audit time). Every answer is checked against a checkpoint signed by that key.`,
	}
	cmd.AddCommand(auditVerifyCommand(), auditSearchCommand(), auditProveCommand())
	return cmd
}

// auditVerifyCommand is `signet audit verify`: the log's checkpoint is
// signed by the pinned key and extends the one seen on the last run.
func auditVerifyCommand() *cobra.Command {
	var af auditFlags
	var state string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the log's checkpoint signature and its consistency with the last checkpoint seen",
		Long: `Check the signature of the log's checkpoint and prove that the log extends the
checkpoint kept from the last run (in --state), then keep the new one. Run it
from cron: it fails when the log forks, shrinks or rewrites its history.
Prints one line: the log's origin, size, root hash, and "consistent with N"
(the size seen before) or "first checkpoint". Exit status: 0 consistent; 1
the log could not be read (nothing concluded); 4 the log is proven to have
forked, shrunk or rewritten its history (the first conflicting checkpoint is
saved beside the kept one, as .conflict).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, done, err := af.client()
			if err != nil {
				return err
			}
			defer done()
			if state == "" {
				cache, err := os.UserCacheDir()
				if err != nil {
					return fmt.Errorf("no --state given and no user cache directory: %w", err)
				}
				state = filepath.Join(cache, "signet", "audit")
			}
			res, err := c.Verify(cmd.Context(), state)
			if err != nil {
				return auditExit(fmt.Errorf("log verification failed: %w", err))
			}
			rel := "first checkpoint"
			if res.Previous != nil {
				rel = fmt.Sprintf("consistent with %d", res.Previous.Size)
			}
			cp := res.Current
			fmt.Fprintf(cmd.OutOrStdout(), "%s: size %d, root %s, %s\n", cp.Origin, cp.Size, b64(cp.RootHash), rel)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&state, "state", "", "directory keeping the last checkpoint seen (default: the user cache directory's signet/audit)")
	return cmd
}

// auditSearchCommand is `signet audit search`: the log's certificates,
// one JSON line each, and with --not-identity an alert of exit status 3.
func auditSearchCommand() *cobra.Command {
	var af auditFlags
	var identity, notIdentity, state string
	var f audit.Filter
	var since uint64
	cmd := &cobra.Command{
		Use:   "search",
		Short: "List the log's certificates that match, one JSON line each",
		Long: `List the certificates of the log, from entry --since on, that pass every
filter given: one JSON line each on stdout, {"index", "serial", "san", "issuer",
"not_before"}. The entries are proven to be those the log's signed checkpoint
commits to. A summary, with the --since of the next run, goes to stderr.

--identity and --not-identity are Go regular expressions matched against each
SAN, unanchored: "example\.com" also matches "evil-example.com.attacker.net";
write ^...$ to match whole names.

--not-identity REGEX is the alerting form: it lists the certificates with a
SAN that REGEX does not match (or with none) and then exits with status 3 if
there was any, so a cron job tells a team about identities it did not expect.

An entry that is not a readable certificate is always listed, with "error".
With --state (the same directory as verify's) the checkpoint searched must
extend the one kept there. Exit status: 0 done; 1 the log could not be read
(nothing concluded); 3 --not-identity listed certificates, even if the
search then failed; 4 the log is proven inconsistent (forked, shrunk below
--since, or serving entries its checkpoint does not commit to).`,
		Example: `  signet audit search --server https://signet.example.com --log-key log.pub --identity '^alice@example\.com$'
  signet audit search --server https://signet.example.com --log-key log.pub --since 1200 \
    --not-identity '^https://github\.com/acme/[^/]+/\.github/workflows/'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if f.Identity, err = compileFlag("identity", identity); err != nil {
				return err
			}
			if f.NotIdentity, err = compileFlag("not-identity", notIdentity); err != nil {
				return err
			}
			c, done, err := af.client()
			if err != nil {
				return err
			}
			defer done()
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetEscapeHTML(false)
			var n int
			var encErr error
			emit := func(e audit.Entry) {
				n++
				if encErr == nil {
					encErr = enc.Encode(e)
				}
			}
			var cp audit.Checkpoint
			if state != "" {
				// The checkpoint searched is the one proven to extend the
				// one this state directory saw last.
				var res audit.VerifyResult
				if res, err = c.Verify(cmd.Context(), state); err == nil {
					cp = res.Current
					err = c.SearchIn(cmd.Context(), cp, f, since, emit)
				}
			} else {
				cp, err = c.Search(cmd.Context(), f, since, emit)
			}
			switch {
			case err == nil && encErr != nil:
				return encErr
			case err != nil && errors.Is(err, audit.ErrInconsistent):
				return auditExit(fmt.Errorf("search stopped after %d matching entries: %w", n, err))
			case err == nil:
				fmt.Fprintf(cmd.ErrOrStderr(), "%d matching of entries %d to %d of %s (checkpoint size %d); next run: --since %d\n",
					n, since, cp.Size, cp.Origin, cp.Size, cp.Size)
			}
			if f.NotIdentity != nil && n > 0 {
				// An alert stays an alert when the rest could not be read.
				msg := fmt.Sprintf("%d certificate(s) with an identity that --not-identity '%s' does not match, listed on stdout", n, notIdentity)
				if err != nil {
					msg += fmt.Sprintf("; then the search failed: %v", err)
				}
				return &exitError{code: exitNotIdentity, err: errors.New(msg)}
			}
			if err != nil {
				return fmt.Errorf("search failed after %d matching entries: %w", n, err)
			}
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&identity, "identity", "", "keep certificates with a SAN this regular expression matches (unanchored)")
	cmd.Flags().StringVar(&notIdentity, "not-identity", "", "keep certificates with a SAN this regular expression does not match (unanchored), and exit 3 if any")
	cmd.Flags().StringVar(&f.Issuer, "issuer", "", "keep certificates of exactly this OIDC issuer URL")
	cmd.Flags().StringVar(&f.Serial, "serial", "", "keep the certificate of this serial number (hex)")
	cmd.Flags().Uint64Var(&since, "since", 0, "start at this entry index (the size printed by the previous run)")
	cmd.Flags().StringVar(&state, "state", "", "directory keeping the last checkpoint seen, as verify's --state: the checkpoint searched must extend it (recommended for a cron job)")
	return cmd
}

// compileFlag compiles the regular expression of --name, nil when empty.
func compileFlag(name, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", name, err)
	}
	return re, nil
}

// auditProveCommand is `signet audit prove`: a bundle's certificate is in
// the log, proven against a verified checkpoint.
func auditProveCommand() *cobra.Command {
	var af auditFlags
	var bundlePath string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "prove",
		Short: "Prove that a Sigstore bundle's certificate is in the log",
		Long: `Find the signing certificate of a Sigstore bundle in the log and verify its
inclusion proof against a checkpoint signed by the pinned key. A certificate
issued moments ago may be newer than the published checkpoint: prove then
waits up to --wait for one that covers it. Prints the entry's index and the
checkpoint's size.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := os.ReadFile(bundlePath)
			if err != nil {
				return fmt.Errorf("read bundle: %w", err)
			}
			leaf, err := bundle.LeafCertificate(b)
			if err != nil {
				return fmt.Errorf("%s: %w", bundlePath, err)
			}
			c, done, err := af.client()
			if err != nil {
				return err
			}
			defer done()
			inc, err := c.Prove(cmd.Context(), leaf.Raw, wait)
			if err != nil {
				return auditExit(fmt.Errorf("the certificate of %s (serial %s) is not proven in the log: %w", bundlePath, leaf.SerialNumber.Text(16), err))
			}
			cp := inc.Checkpoint
			fmt.Fprintf(cmd.OutOrStdout(), "%s: certificate %s is entry %d, proven in checkpoint of size %d, root %s\n",
				cp.Origin, leaf.SerialNumber.Text(16), inc.Index, cp.Size, b64(cp.RootHash))
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&bundlePath, "bundle", "", "Sigstore bundle whose certificate to prove")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for a checkpoint that covers the certificate")
	_ = cmd.MarkFlagRequired("bundle")
	return cmd
}
