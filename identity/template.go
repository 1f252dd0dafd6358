package identity

import (
	"bytes"
	"maps"
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/sigstore/fulcio/pkg/certificate"
)

// roleSAN names the subject alternative name in messages.
const roleSAN = "subject alternative name"

// render applies a Fulcio claim template: a Go text/template when it holds
// "{{", else the name of a claim. Claims win over the issuer's defaults.
// Before anything is rendered, every claim the template uses is checked:
// a key found neither in the token nor in the defaults refuses the token,
// naming the claim; for the SAN (strict) a claim must be a non-empty JSON
// string, for an extension a string, a number or a boolean. role names
// what is rendered, for messages. Every refusal is problem.Unauthorized.
func render(tmpl string, tok verified, defaults map[string]string, role string, strict bool) (string, error) {
	var t *template.Template
	if strings.Contains(tmpl, "{{") {
		var err error
		if t, err = parseTemplate(tmpl); err != nil {
			return "", problem.Unauthorized("the %s template of this issuer does not parse", role).WithCause(err)
		}
	}
	fields := []string{tmpl}
	if t != nil {
		fields = templateFields(t.Tree.Root)
	}
	for _, f := range fields {
		if err := usable(tok, defaults, f, role, strict); err != nil {
			return "", err
		}
	}
	data := make(map[string]string, len(tok.claims)+len(defaults))
	maps.Copy(data, defaults)
	maps.Copy(data, tok.claims)
	if t == nil {
		return data[tmpl], nil
	}
	var out bytes.Buffer
	if err := t.Execute(&out, data); err != nil {
		return "", problem.Unauthorized("identity token's claims do not fit the %s template of this issuer", role).WithCause(err)
	}
	return out.String(), nil
}

// usable checks one claim a template uses.
func usable(tok verified, defaults map[string]string, name, role string, strict bool) error {
	kind, inToken := tok.kinds[name]
	switch {
	case !inToken:
		if _, ok := defaults[name]; !ok {
			return problem.Unauthorized("identity token lacks the %s claim, which the %s needs", name, role)
		}
	case strict && kind != kindString:
		return problem.Unauthorized("identity token's %s claim is a JSON %s: it forms the %s, so it must be a string", name, kind, role)
	case strict && tok.claims[name] == "":
		return problem.Unauthorized("identity token's %s claim is empty: it forms the %s", name, role)
	case !scalar(kind):
		return problem.Unauthorized("identity token's %s claim is a JSON %s: the %s can hold only a string, a number or a boolean", name, kind, role)
	}
	return nil
}

// templateFields lists the top-level keys a template reads ({{ .name }}
// and {{ index . "name" }}), in order of appearance, each once.
func templateFields(root parse.Node) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			// {{ index . "claim.with.dots" }}, as the CircleCI profile reads
			// claim names that are not identifiers.
			if len(n.Args) >= 3 {
				fn, isIdent := n.Args[0].(*parse.IdentifierNode)
				_, isDot := n.Args[1].(*parse.DotNode)
				key, isString := n.Args[2].(*parse.StringNode)
				if isIdent && fn.Ident == "index" && isDot && isString && !seen[key.Text] {
					seen[key.Text] = true
					out = append(out, key.Text)
				}
			}
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			if name := n.Ident[0]; !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(&n.BranchNode)
		case *parse.RangeNode:
			walk(&n.BranchNode)
		case *parse.WithNode:
			walk(&n.BranchNode)
		case *parse.BranchNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		}
	}
	walk(root)
	return out
}

// renderExtensions fills every templated extension from the claims. Issuer
// and Subject are never templated: the caller sets them from the token.
func renderExtensions(tmpl certificate.Extensions, tok verified, defaults map[string]string) (certificate.Extensions, error) {
	out := tmpl
	v := reflect.ValueOf(&out).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		src := v.Field(i).String()
		if name == "Issuer" || name == "Subject" || strings.TrimSpace(src) == "" {
			v.Field(i).SetString("")
			continue
		}
		val, err := render(src, tok, defaults, "extension "+name, false)
		if err != nil {
			return certificate.Extensions{}, err
		}
		v.Field(i).SetString(val)
	}
	return out, nil
}
