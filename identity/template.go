package identity

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"github.com/sigstore/fulcio/pkg/certificate"
)

// render applies a Fulcio claim template: a Go text/template when it holds
// "{{", else the name of a claim. Claims win over the issuer's defaults; a
// key found in neither is an error, never an empty value.
func render(tmpl string, claims, defaults map[string]string) (string, error) {
	data := make(map[string]string, len(claims)+len(defaults))
	maps.Copy(data, defaults)
	maps.Copy(data, claims)
	if strings.Contains(tmpl, "{{") {
		t, err := parseTemplate(tmpl)
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			return "", err
		}
		return out.String(), nil
	}
	v, ok := data[tmpl]
	if !ok {
		return "", fmt.Errorf("claim %q is not in the token and has no default", tmpl)
	}
	return v, nil
}

// renderExtensions fills every templated extension from the claims. Issuer
// and Subject are never templated: the caller sets them from the token.
func renderExtensions(tmpl certificate.Extensions, claims, defaults map[string]string) (certificate.Extensions, error) {
	out := tmpl
	v := reflect.ValueOf(&out).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		src := v.Field(i).String()
		if name == "Issuer" || name == "Subject" || strings.TrimSpace(src) == "" {
			v.Field(i).SetString("")
			continue
		}
		val, err := render(src, claims, defaults)
		if err != nil {
			return certificate.Extensions{}, fmt.Errorf("extension %s: %w", name, err)
		}
		v.Field(i).SetString(val)
	}
	return out, nil
}
