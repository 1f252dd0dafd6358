package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
)

func configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a signet configuration",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(configValidateCommand())
	return cmd
}

func configValidateCommand() *cobra.Command {
	var identityPath string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Load a config and its identity config, compile the policy, print what signet would trust",
		Long: `Load a config file and the Fulcio identity config it names (or
--identity-config), validate both, compile every policy rule, and print the
effective issuers and rules. Exits non-zero with the field at fault on any
error. Nothing is fetched from the issuers or Vault; Vault settings left
empty come from the VAULT_* variables, as for serve.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return err
			}
			if identityPath != "" {
				if err := cfg.LoadIdentity(identityPath); err != nil {
					return err
				}
			}
			// As serve does: the Vault address and credentials may come
			// from the standard VAULT_* variables.
			cfg.Vault.FromEnv(os.LookupEnv)
			if err := cfg.Validate(); err != nil {
				return err
			}
			idcfg := cfg.EffectiveIdentity()
			policy, err := identity.NewPolicy(cfg.Policy, idcfg, nil)
			if err != nil {
				return fmt.Errorf("config: %w", err)
			}
			printEffective(cmd.OutOrStdout(), args[0], cfg, idcfg, policy)
			printWarnings(cmd.ErrOrStderr(), idcfg, policy)
			for _, lw := range cfg.LogWarnings() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", lw)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&identityPath, "identity-config", "", "Fulcio identity config file (YAML or JSON), overriding the config's")
	return cmd
}

// printWarnings writes one "warning:" line per finding of a valid config
// that is probably not what its operator meant.
func printWarnings(w io.Writer, idcfg identity.Config, policy *identity.Policy) {
	for _, gw := range identity.GitHubBaseWarnings(idcfg) {
		fmt.Fprintf(w, "warning: %s\n", gw)
	}
	if uncovered := policy.Uncovered(idcfg); len(uncovered) > 0 {
		fmt.Fprintf(w, "warning: no policy rule covers the trusted issuers %s: their tokens are denied (%s); add rules for them or a default rule\n",
			strings.Join(uncovered, ", "), identity.NoRuleForIssuer)
	}
}

// printEffective writes the issuers and rules a valid config makes signet trust.
func printEffective(w io.Writer, path string, cfg *config.Config, idcfg identity.Config, policy *identity.Policy) {
	source := "none: GitHub Actions on github.com"
	if cfg.IdentityConfigPath != "" {
		source = cfg.IdentityConfigPath
	}
	o := cfg.OIDC.Effective()
	fmt.Fprintf(w, "%s: valid\nidentity config: %s\n", path, source)
	fmt.Fprintf(w, "oidc: clock-skew %s, max-token-lifetime %s, discovery-timeout %s, jwks-timeout %s, jwks-refetch-interval %s\n",
		o.ClockSkew, o.MaxTokenLifetime, o.DiscoveryTimeout, o.JWKSTimeout, o.JWKSRefetchInterval)
	fmt.Fprintf(w, "\nissuers (%d):\n", len(idcfg.OIDCIssuers)+len(idcfg.MetaIssuers))
	for _, meta := range []bool{false, true} {
		set := idcfg.OIDCIssuers
		if meta {
			set = idcfg.MetaIssuers
		}
		for _, url := range slices.Sorted(maps.Keys(set)) {
			printIssuer(w, url, set[url], meta, policy, len(cfg.Policy.Rules) > 0)
		}
	}
	rules := cfg.Policy.Rules
	fmt.Fprintf(w, "\npolicy rules (%d):\n", len(rules))
	if len(rules) == 0 {
		fmt.Fprintln(w, "  none: every authenticated identity may get a certificate")
	}
	for _, r := range rules {
		scope := "default (issuers without rules of their own)"
		if r.Issuer != "" {
			scope = "issuer " + r.Issuer
		}
		fmt.Fprintf(w, "  %s [%s]\n    require: %s\n", r.Name, scope, strings.Join(strings.Fields(r.Require), " "))
	}
}

func printIssuer(w io.Writer, url string, iss identity.Issuer, meta bool, policy *identity.Policy, hasRules bool) {
	details := identity.Describe(url, iss)
	var names []string
	for _, r := range policy.RulesFor(strings.ReplaceAll(url, "*", "x")) { // a typical issuer of a pattern
		names = append(names, r.Name)
	}
	if meta {
		url += " (meta-issuer)"
	}
	switch {
	case len(names) == 0 && hasRules:
		names = []string{"none: its tokens are denied (" + identity.NoRuleForIssuer + ")"}
	case len(names) == 0:
		names = []string{"none"}
	}
	fmt.Fprintf(w, "  %s\n    %s\n    rules: %s\n", url, strings.Join(details, ", "), strings.Join(names, ", "))
}
