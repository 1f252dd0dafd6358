package identity

import (
	"fmt"
	"sync"
	"testing"
)

// TestTemplateCache checks that a template is parsed once and then shared,
// that a template that does not parse keeps its error, that a nil cache
// still parses, and that the cache stops growing at its bound.
func TestTemplateCache(t *testing.T) {
	tests := []struct {
		name    string
		tmpl    string
		wantErr bool
		fields  []string
	}{
		{"fields", "{{ .repository }}@{{ .ref }}", false, []string{"repository", "ref"}},
		{"index", `x/{{ index . "a.b" }}`, false, []string{"a.b"}},
		{"unparsable", "{{ .repository", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTemplateCache()
			first := c.get(tt.tmpl)
			if (first.err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", first.err, tt.wantErr)
			}
			if fmt.Sprint(first.fields) != fmt.Sprint(tt.fields) {
				t.Fatalf("fields = %v, want %v", first.fields, tt.fields)
			}
			if again := c.get(tt.tmpl); again != first {
				t.Fatal("second get parsed the template again")
			}
			var nilCache *templateCache
			if uncached := nilCache.get(tt.tmpl); (uncached.err != nil) != tt.wantErr || uncached == first {
				t.Fatalf("nil cache: err = %v, shared = %v", uncached.err, uncached == first)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		c := newTemplateCache()
		for i := range maxCachedTemplates + 10 {
			c.get(fmt.Sprintf("{{ .c%d }}", i))
		}
		if n := len(c.parsed); n != maxCachedTemplates {
			t.Fatalf("cache holds %d templates, want %d", n, maxCachedTemplates)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		c := newTemplateCache()
		data := map[string]string{"repository": "acme/widgets", "ref": "refs/heads/main"}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				tok := verified{claims: data, kinds: map[string]string{"repository": kindString, "ref": kindString}, templates: c}
				got, err := render("{{ .repository }}@{{ .ref }}", tok, nil, data, roleSAN, true)
				if err != nil || got != "acme/widgets@refs/heads/main" {
					t.Errorf("render = %q, %v", got, err)
				}
			})
		}
		wg.Wait()
	})
}
