// Package version says which build of signet is running: the module
// version, the VCS revision and the Go version. The revision is stamped at
// build time with
//
//	-ldflags "-X github.com/signet-dev/signet/internal/version.revision=$(git rev-parse HEAD)"
//
// (the Makefile and the Dockerfile do), because this machine's Go sets
// -buildvcs=false and the Docker context has no .git; a build that was not
// stamped falls back to the VCS data Go recorded, if any.
package version

import (
	"runtime/debug"
	"strings"
)

// revision is set by the linker (-X); it is never written at run time.
var revision string

// Info is the build's identity, as `signet version` and GET /api/v1/version
// report it.
type Info struct {
	// Version is the module version ("(devel)" for a build from a checkout).
	Version string `json:"version"`
	// Revision is the VCS commit, "unknown" when the build was not stamped.
	Revision string `json:"revision"`
	// Go is the Go version the binary was built with.
	Go string `json:"go"`
}

// Get reads the running binary's build information.
func Get() Info {
	info := Info{Version: "(devel)", Revision: revision, Go: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.Go = bi.GoVersion
		if v := bi.Main.Version; v != "" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Revision == "" {
				info.Revision = s.Value
			}
		}
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	return info
}

// UserAgent is the User-Agent signet's client sends: signet/<version>.
func UserAgent() string {
	v := Get()
	ua := "signet/" + v.Version
	if v.Revision != "unknown" {
		ua += " (" + shortRevision(v.Revision) + ")"
	}
	return ua
}

// String renders the build for a terminal: version, revision, Go.
func (i Info) String() string {
	return "signet " + i.Version + "\nrevision " + i.Revision + "\ngo " + i.Go + "\n"
}

func shortRevision(r string) string {
	r = strings.TrimSpace(r)
	if len(r) > 12 {
		return r[:12]
	}
	return r
}
