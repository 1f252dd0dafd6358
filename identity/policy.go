package identity

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/signet-dev/signet/internal/problem"
)

// PolicyConfig is the claim policy: named rules over the verified claims
// that decide whether an authenticated identity gets a certificate.
//
// A rule with an issuer applies to the tokens of that issuer (an issuer URL,
// or a pattern with * as in meta-issuers); a rule without one is a default
// rule and applies to the tokens of every issuer that has no rules of its
// own. Every rule that applies must hold, in the order written; the first
// that does not denies the request. Policy fails closed: once there is any
// rule, a token of an issuer that no rule covers (no rule of its own and no
// default rule) is denied by the synthetic rule NoRuleForIssuer. Without any
// rule every authenticated token is allowed.
type PolicyConfig struct {
	// Rules are checked in order.
	Rules []Rule `yaml:"rules"`
}

// Rule is one named requirement, a CEL expression that must be true.
//
// The expression sees `claims` (the verified token claims as JSON values,
// a map from name to value), `issuer` (the token's iss), `subject` (its sub)
// and `identity` (the certificate's SAN); it may call
// `string.glob(pattern)`, which matches like path.Match (* does not cross
// '/'), and use optional fields (`claims.?environment.orValue("")`).
type Rule struct {
	// Name names the rule in denials and logs; unique.
	Name string `yaml:"name"`
	// Issuer scopes the rule to one issuer URL or pattern; empty makes it a
	// default rule.
	Issuer string `yaml:"issuer,omitempty"`
	// Require is the CEL expression that must evaluate to true.
	Require string `yaml:"require"`
	// Description tells a denied client what the rule wants.
	Description string `yaml:"description,omitempty"`
}

// Policy is a compiled PolicyConfig; its Authorize method is the signing
// flow's Authorizer. It is safe for concurrent use.
type Policy struct {
	rules []compiledRule
	log   *slog.Logger
}

type compiledRule struct {
	Rule
	issuer *regexp.Regexp // nil for a default rule
	prg    cel.Program
}

// NoRuleForIssuer names the synthetic rule that denies the tokens of an
// issuer no rule covers, when the policy has rules.
const NoRuleForIssuer = "no-rule-for-issuer"

// policyCostLimit bounds the evaluation cost of one rule.
const policyCostLimit = 100_000

// NewPolicy compiles and type-checks every rule, and checks that each
// scoped rule names an issuer trusted by trusted. log receives one line per
// decision; nil discards them.
func NewPolicy(pc PolicyConfig, trusted Config, log *slog.Logger) (*Policy, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env, err := policyEnv()
	if err != nil {
		return nil, fmt.Errorf("identity: policy environment: %w", err)
	}
	p := &Policy{log: log}
	seen := map[string]bool{}
	for i, r := range pc.Rules {
		where := fmt.Sprintf("policy.rules[%d]", i)
		if r.Name == "" {
			return nil, fmt.Errorf("%s.name is missing: every rule needs a name to be reported by", where)
		}
		where = fmt.Sprintf("policy.rules[%d] (%q)", i, r.Name)
		if seen[r.Name] {
			return nil, fmt.Errorf("%s.name is used by an earlier rule: names must be unique", where)
		}
		seen[r.Name] = true
		cr := compiledRule{Rule: r}
		if r.Issuer != "" {
			if cr.issuer, err = ruleIssuer(r.Issuer, trusted); err != nil {
				return nil, fmt.Errorf("%s.issuer: %w", where, err)
			}
		}
		if strings.TrimSpace(r.Require) == "" {
			return nil, fmt.Errorf("%s.require is missing: write the CEL expression that must hold", where)
		}
		if cr.prg, err = compileRule(env, r.Require); err != nil {
			return nil, fmt.Errorf("%s.require: %w", where, err)
		}
		p.rules = append(p.rules, cr)
	}
	return p, nil
}

// ruleIssuer compiles a rule's issuer and checks that it names trusted
// issuers: an oidc-issuers entry, a meta-issuers pattern, or a URL a
// meta-issuers pattern matches.
func ruleIssuer(iss string, trusted Config) (*regexp.Regexp, error) {
	re, err := MetaRegex(iss)
	if err != nil {
		return nil, err
	}
	if _, ok := trusted.MetaIssuers[iss]; ok {
		return re, nil
	}
	if _, ok := trusted.Lookup(iss); ok && !strings.Contains(iss, "*") {
		return re, nil
	}
	for key := range trusted.OIDCIssuers {
		if strings.Contains(iss, "*") && re.MatchString(key) {
			return re, nil
		}
	}
	return nil, fmt.Errorf("%q is not a trusted issuer: name an oidc-issuers entry, a meta-issuers pattern or an issuer it matches", iss)
}

// RulesFor returns the rules that apply to tokens of issuer, in order.
func (p *Policy) RulesFor(issuer string) []Rule {
	var out []Rule
	for _, r := range p.applicable(issuer) {
		out = append(out, r.Rule)
	}
	return out
}

// Authorize allows the principal or refuses it with problem.Forbidden
// naming the rule that denied it; the decision is logged either way.
func (p *Policy) Authorize(ctx context.Context, pr *Principal) error {
	issuer := tokenIssuer(pr)
	vars := map[string]any{
		"claims": pr.RawClaims, "issuer": issuer, "subject": pr.Subject, "identity": pr.Name(),
	}
	rules := p.applicable(issuer)
	if len(rules) == 0 && len(p.rules) > 0 {
		p.log.WarnContext(ctx, "policy decision", "decision", "deny", "rule", NoRuleForIssuer,
			"reason", "no policy rule covers this issuer", "identity", pr.Name(), "issuer", issuer, "subject", pr.Subject)
		return problem.Forbidden("identity %q of issuer %q is denied by policy rule %q: no policy rule covers this issuer; "+
			"ask the operator to add a rule for it (or a default rule without issuer)", problem.Clip(pr.Name(), 256), problem.Clip(issuer, 256), NoRuleForIssuer)
	}
	var applied []string
	for _, r := range rules {
		ok, err := evalRule(ctx, r.prg, vars)
		if err == nil && ok {
			applied = append(applied, r.Name)
			continue
		}
		reason := "its requirement is false"
		if err != nil {
			reason = "it could not be evaluated on this token (" + err.Error() + ")"
		}
		p.log.WarnContext(ctx, "policy decision", "decision", "deny", "rule", r.Name, "reason", reason,
			"identity", pr.Name(), "issuer", issuer, "subject", pr.Subject)
		msg := fmt.Sprintf("identity %q of issuer %q is denied by policy rule %q: %s", problem.Clip(pr.Name(), 256), problem.Clip(issuer, 256), r.Name, problem.Clip(reason, 512))
		if r.Description != "" {
			msg += "; the rule says: " + r.Description
		}
		return problem.Forbidden("%s", msg)
	}
	p.log.InfoContext(ctx, "policy decision", "decision", "allow", "rules", applied,
		"identity", pr.Name(), "issuer", issuer, "subject", pr.Subject)
	return nil
}

// Uncovered returns the issuers of trusted (oidc-issuers URLs, then
// meta-issuers patterns, each sorted) that no rule covers, whose tokens
// Authorize therefore denies; nil when the policy has no rule or has a
// default rule. A pattern counts as covered when a rule names it or a rule
// pattern matches a typical issuer of it.
func (p *Policy) Uncovered(trusted Config) []string {
	if len(p.rules) == 0 {
		return nil
	}
	covered := func(iss string, meta bool) bool {
		for _, r := range p.rules {
			switch {
			case r.issuer == nil, r.Issuer == iss:
				return true
			case !meta && r.issuer.MatchString(iss):
				return true
			case meta && strings.Contains(r.Issuer, "*") && r.issuer.MatchString(strings.ReplaceAll(iss, "*", "x")):
				return true
			}
		}
		return false
	}
	var out []string
	for _, iss := range sortedKeys(trusted.OIDCIssuers) {
		if !covered(iss, false) {
			out = append(out, iss)
		}
	}
	for _, pattern := range sortedKeys(trusted.MetaIssuers) {
		if !covered(pattern, true) {
			out = append(out, pattern)
		}
	}
	return out
}

// applicable returns the rules of issuer: its scoped rules, else the
// default rules; none when no rule covers it.
func (p *Policy) applicable(issuer string) []compiledRule {
	var scoped, defaults []compiledRule
	for _, r := range p.rules {
		switch {
		case r.issuer == nil:
			defaults = append(defaults, r)
		case r.issuer.MatchString(issuer):
			scoped = append(scoped, r)
		}
	}
	if len(scoped) > 0 {
		return scoped
	}
	return defaults
}

// tokenIssuer is the token's own iss, which may differ from the certified
// issuer of an email issuer with an issuer-claim.
func tokenIssuer(pr *Principal) string {
	if iss, ok := pr.RawClaims["iss"].(string); ok && iss != "" {
		return iss
	}
	return pr.Issuer
}

func evalRule(ctx context.Context, prg cel.Program, vars map[string]any) (bool, error) {
	out, _, err := prg.ContextEval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("the rule yields %v, not a boolean", out)
	}
	return b, nil
}
