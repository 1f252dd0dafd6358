package identity

import (
	"maps"
	"reflect"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/sigstore/fulcio/pkg/certificate"
)

// roleSAN names the subject alternative name in messages.
const roleSAN = "subject alternative name"

// render applies a Fulcio claim template: a Go text/template when it holds
// "{{", else the name of a claim. data holds the claims over the issuer's
// defaults (templateData): claims win. Before anything is rendered, every
// claim the template uses is checked: a key found neither in the token nor
// in the defaults refuses the token, naming the claim; for the SAN (strict)
// a claim must be a non-empty JSON string, for an extension a string, a
// number or a boolean. role names what is rendered, for messages. Every
// refusal is problem.Unauthorized.
func render(tmpl string, tok verified, defaults, data map[string]string, role string, strict bool) (string, error) {
	if !strings.Contains(tmpl, "{{") {
		if err := usable(tok, defaults, tmpl, role, strict); err != nil {
			return "", err
		}
		return data[tmpl], nil
	}
	pt := tok.templates.get(tmpl)
	if pt.err != nil {
		return "", problem.Unauthorized("the %s template of this issuer does not parse", role).WithCause(pt.err)
	}
	for _, f := range pt.fields {
		if err := usable(tok, defaults, f, role, strict); err != nil {
			return "", err
		}
	}
	var out strings.Builder
	if err := pt.t.Execute(&out, data); err != nil {
		return "", problem.Unauthorized("identity token's claims do not fit the %s template of this issuer", role).WithCause(err)
	}
	return out.String(), nil
}

// templateData is what templates see: the token's scalar claims over the
// issuer's defaults. It is built once per token and only read.
func templateData(tok verified, defaults map[string]string) map[string]string {
	data := make(map[string]string, len(tok.claims)+len(defaults))
	maps.Copy(data, defaults)
	maps.Copy(data, tok.claims)
	return data
}

// maxCachedTemplates bounds a templateCache. Templates come from the
// configuration, so a few dozen are normal; past the bound a template is
// parsed on every use instead of cached.
const maxCachedTemplates = 1024

// templateCache holds claim templates parsed once, by their text; it is
// safe for concurrent use, and a nil cache parses on every call.
// text/template allows one parsed template to execute concurrently.
type templateCache struct {
	mu     sync.RWMutex
	parsed map[string]*parsedTemplate
}

// parsedTemplate is a template, the claims it reads, or why it does not parse.
type parsedTemplate struct {
	t      *template.Template
	fields []string
	err    error
}

func newTemplateCache() *templateCache {
	return &templateCache{parsed: map[string]*parsedTemplate{}}
}

// get returns the parsed form of tmpl, parsing it on first use.
func (c *templateCache) get(tmpl string) *parsedTemplate {
	if c != nil {
		c.mu.RLock()
		pt, ok := c.parsed[tmpl]
		c.mu.RUnlock()
		if ok {
			return pt
		}
	}
	pt := &parsedTemplate{}
	if pt.t, pt.err = parseTemplate(tmpl); pt.err == nil {
		pt.fields = templateFields(pt.t.Tree.Root)
	}
	if c != nil {
		c.mu.Lock()
		if len(c.parsed) < maxCachedTemplates {
			c.parsed[tmpl] = pt
		}
		c.mu.Unlock()
	}
	return pt
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
func renderExtensions(tmpl certificate.Extensions, tok verified, defaults, data map[string]string) (certificate.Extensions, error) {
	out := tmpl
	v := reflect.ValueOf(&out).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		src := v.Field(i).String()
		if name == "Issuer" || name == "Subject" || strings.TrimSpace(src) == "" {
			v.Field(i).SetString("")
			continue
		}
		val, err := render(src, tok, defaults, data, "extension "+name, false)
		if err != nil {
			return certificate.Extensions{}, err
		}
		v.Field(i).SetString(val)
	}
	return out, nil
}
