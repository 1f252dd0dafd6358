package tufrepo

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/signet-dev/signet/internal/problem"
)

// Cache lifetimes: a versioned file never changes (a versioned root only
// when an operator starts the repository over); the timestamp and the
// unversioned names change every period.
const (
	immutable = "public, max-age=31536000, immutable"
	noCache   = "no-cache"
	rootCache = "public, max-age=300"
)

// Handler serves the repository read-only, paths relative to its base:
// timestamp.json; N.snapshot.json and N.targets.json for the kept
// versions (and the current ones unversioned); N.root.json for every root
// version and root.json for the current one;
// targets/<sha256>.<name>. Anything else is 404.
func (r *Repository) Handler() http.Handler {
	return http.HandlerFunc(r.serve)
}

func (r *Repository) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the TUF repository is read-only", http.StatusMethodNotAllowed)
		return
	}
	if now := r.opts.Clock(); !now.Before(r.rootExpires) {
		// A root that expired while the server ran: clients refuse
		// everything under it, so say why instead of serving it.
		problem.Write(w, r.opts.Log, req, problem.Unavailable("the TUF repository is not served: its root has expired; the operator must sign a new one"))
		return
	}
	body, cache, err := r.lookup(req)
	if err != nil {
		var se *SigningError
		if errors.As(err, &se) {
			err = problem.Unavailable("TUF metadata cannot be signed now; retry later").WithCause(err)
		}
		problem.Write(w, r.opts.Log, req, err)
		return
	}
	if body == nil {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if req.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// lookup finds what path names; a nil body means not found.
func (r *Repository) lookup(req *http.Request) (body []byte, cache string, err error) {
	ctx := req.Context()
	path := strings.TrimPrefix(req.URL.Path, "/")
	if name, ok := strings.CutPrefix(path, "targets/"); ok {
		b, err := r.targetFile(ctx, name)
		return b, immutable, err
	}
	switch path {
	case "timestamp.json", "snapshot.json", "targets.json":
		p, err := r.current(ctx)
		if err != nil {
			return nil, "", err
		}
		return p.role(strings.TrimSuffix(path, ".json")), noCache, nil
	case "root.json":
		return r.opts.Root, noCache, nil
	}
	// N.root.json is not cached for long: `signet tuf init --force` (and
	// --dev) write a new version 1 under the same name.
	prefix, role, ok := strings.Cut(path, ".")
	v, err := strconv.ParseInt(prefix, 10, 64)
	if !ok || err != nil || v < 1 || strconv.FormatInt(v, 10) != prefix {
		return nil, "", nil
	}
	switch role {
	case "root.json":
		if v == r.rootVersion {
			return r.opts.Root, rootCache, nil
		}
		if b, ok := r.earlier[v]; ok {
			return b, rootCache, nil
		}
	case "snapshot.json", "targets.json":
		p, err := r.find(ctx, v)
		if err != nil || p == nil {
			return nil, "", err
		}
		return p.role(strings.TrimSuffix(role, ".json")), immutable, nil
	}
	return nil, "", nil
}

// role returns the metadata of one online role.
func (p *published) role(name string) []byte {
	switch name {
	case "timestamp":
		return p.timestamp
	case "snapshot":
		return p.snapshot
	}
	return p.targets
}
