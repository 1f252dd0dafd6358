// Command signet is a self-hostable keyless signing service: a Fulcio-
// compatible CA and an RFC 3161 timestamp authority that hand CI jobs
// complete Sigstore bundles, and the client commands that use it.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/internal/version"
)

func main() {
	root := &cobra.Command{
		Use:           "signet",
		Short:         "Keyless signing for CI: OIDC token in, Sigstore bundle out",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().Version,
	}
	root.SetVersionTemplate(version.Get().String())
	root.AddCommand(serveCommand(), signCommand(), attestCommand(), verifyCommand(), caCommand())
	root.AddCommand(configCommand(), loadCommand(), versionCommand(), auditCommand(), tufCommand())
	if err := root.Execute(); err != nil {
		msg := err.Error()
		var pe *problem.Error
		if errors.As(err, &pe) && pe.Cause != nil {
			msg += " (" + pe.Cause.Error() + ")"
		}
		fmt.Fprintf(os.Stderr, "signet: %s\n", msg)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// newLogger returns the JSON logger of every command.
func newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
