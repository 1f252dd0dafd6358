package tufrepo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// versionedRoot is the name TUF gives a root version: N.root.json.
var versionedRoot = regexp.MustCompile(`^[1-9][0-9]*\.root\.json$`)

// VersionedRootPath is where the earlier version of the root at rootPath
// is kept: N.root.json in the same directory.
func VersionedRootPath(rootPath string, version int64) string {
	return filepath.Join(filepath.Dir(rootPath), fmt.Sprintf("%d.root.json", version))
}

// EarlierRoots reads the earlier root versions kept beside the current
// root at rootPath (every N.root.json in its directory but that file and
// any copy of it), for Options.PreviousRoots; New checks that they run
// from version 1 to the current one.
func EarlierRoots(rootPath string) ([][]byte, error) {
	dir := filepath.Dir(rootPath)
	current, err := os.ReadFile(rootPath)
	if err != nil {
		return nil, fmt.Errorf("tufrepo: the root: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tufrepo: the directory of the root: %w", err)
	}
	var out [][]byte
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !versionedRoot.MatchString(e.Name()) || filepath.Clean(p) == filepath.Clean(rootPath) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("tufrepo: an earlier root: %w", err)
		}
		if bytes.Equal(b, current) {
			continue // the current root, kept by a rotation that stopped before writing the next one
		}
		out = append(out, b)
	}
	return out, nil
}

// IsVersionedRootName reports whether name is N.root.json, the name of an
// earlier root version: the current root must be named otherwise, since
// a rotation keeps the version it replaces under that name beside it.
func IsVersionedRootName(path string) bool {
	return versionedRoot.MatchString(filepath.Base(path))
}
