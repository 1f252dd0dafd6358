package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/internal/version"
)

// versionCommand prints the build: module version, VCS revision, Go.
func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print signet's version, VCS revision and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), version.Get())
			return err
		},
	}
}
