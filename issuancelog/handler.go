package issuancelog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// Cache-Control values of the served resources.
const (
	cacheCheckpoint = "no-cache"
	cacheFullTile   = "public, max-age=31536000, immutable"
	cachePartial    = "public, max-age=60"
	cacheKey        = "public, max-age=300"
)

// Handler serves the log read-only in the C2SP tlog-tiles layout, under a
// prefix the caller strips: "checkpoint", "tile/<L>/<N>[.p/<W>]",
// "tile/entries/<N>[.p/<W>]", and "key" (the verifier key as text). Any
// other path, and any path not in its one canonical spelling, is 404:
// there is no directory listing, and tessera's temporary files and its
// .state directory are never served. Files are opened through an os.Root
// of the log directory, so nothing outside it is reachable.
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(l.serve)
}

func (l *Log) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch {
	case name == "key":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", cacheKey)
		_, _ = w.Write([]byte(l.signer.VerifierKey()))
		return
	case name == layout.CheckpointPath && l.root == nil:
		l.serveRead(w, r, "text/plain; charset=utf-8", cacheCheckpoint, l.reader.ReadCheckpoint)
		return
	case name == layout.CheckpointPath:
		l.serveFile(w, r, name, "text/plain; charset=utf-8", cacheCheckpoint)
		return
	}
	partial, ok := tilePath(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	cache := cacheFullTile
	if partial || !l.published(r.Context(), name) {
		// A full tile beyond the published checkpoint could still be
		// rewritten (its group failed before the tree state was saved):
		// never cached as immutable until a checkpoint covers it.
		cache = cachePartial
	}
	if l.root == nil {
		l.serveRead(w, r, "application/octet-stream", cache, func(ctx context.Context) ([]byte, error) { return l.readTile(ctx, name) })
		return
	}
	l.serveFile(w, r, name, "application/octet-stream", cache)
}

// readTile reads a tile or entry bundle, named as tlog-tiles names it,
// through tessera's LogReader (a database log has no files), cut to the
// width the name asks for: tessera's MySQL storage returns the whole
// stored row, which holds entries sequenced after the checkpoint a client
// follows, and tlog-tiles requires exactly that width.
func (l *Log) readTile(ctx context.Context, name string) ([]byte, error) {
	rest := strings.TrimPrefix(name, "tile/")
	if idx, isEntries := strings.CutPrefix(rest, "entries/"); isEntries {
		n, p, err := layout.ParseTileIndexPartial(idx)
		if err != nil {
			return nil, os.ErrNotExist
		}
		b, err := l.reader.ReadEntryBundle(ctx, n, p)
		if err != nil {
			return nil, err
		}
		return firstEntries(b, width(p))
	}
	level, idx, _ := strings.Cut(rest, "/")
	lv, n, p, err := layout.ParseTileLevelIndexPartial(level, idx)
	if err != nil {
		return nil, os.ErrNotExist
	}
	b, err := l.reader.ReadTile(ctx, lv, n, p)
	if err != nil {
		return nil, err
	}
	return firstHashes(b, width(p))
}

// published reports whether the full tile or entry bundle name lies
// within the published checkpoint, whose entries can no longer change.
func (l *Log) published(ctx context.Context, name string) bool {
	rest := strings.TrimPrefix(name, "tile/")
	var level, index uint64
	if idx, isEntries := strings.CutPrefix(rest, "entries/"); isEntries {
		n, _, err := layout.ParseTileIndexPartial(idx)
		if err != nil {
			return false
		}
		index = n
	} else {
		lv, idx, _ := strings.Cut(rest, "/")
		lvl, n, _, err := layout.ParseTileLevelIndexPartial(lv, idx)
		if err != nil {
			return false
		}
		level, index = lvl, n
	}
	if level >= 7 { // 256^8 entries: beyond any log, and beyond uint64 below
		return false
	}
	span := uint64(1) << (8 * (level + 1)) // entries under one tile of this level
	if index >= (1<<63)/span {
		return false
	}
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return false
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 3 {
		return false
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	return err == nil && (index+1)*span <= size
}

// width is the number of items of a tile or bundle named with partial
// width p: p, or all 256 for a full one.
func width(p uint8) int {
	if p == 0 {
		return layout.TileWidth
	}
	return int(p)
}

// firstHashes cuts a hash tile to its first w hashes.
func firstHashes(b []byte, w int) ([]byte, error) {
	var t api.HashTile
	if err := t.UnmarshalText(b); err != nil {
		return nil, fmt.Errorf("stored hash tile: %w", err)
	}
	if len(t.Nodes) < w {
		return nil, os.ErrNotExist
	}
	t.Nodes = t.Nodes[:w]
	return t.MarshalText()
}

// firstEntries cuts an entry bundle to its first w entries, re-encoded as
// tessera encodes them.
func firstEntries(b []byte, w int) ([]byte, error) {
	var bundle api.EntryBundle
	if err := bundle.UnmarshalText(b); err != nil {
		return nil, fmt.Errorf("stored entry bundle: %w", err)
	}
	if len(bundle.Entries) < w {
		return nil, os.ErrNotExist
	}
	if len(bundle.Entries) == w {
		return b, nil
	}
	var out []byte
	for _, e := range bundle.Entries[:w] {
		out = append(out, tessera.NewEntry(e).MarshalBundleData(0)...)
	}
	return out, nil
}

// serveRead answers with what read returns: 404 when it does not exist,
// 503 (cause logged) when the storage fails.
func (l *Log) serveRead(w http.ResponseWriter, r *http.Request, contentType, cache string, read func(context.Context) ([]byte, error)) {
	b, err := read(r.Context())
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0):
		http.NotFound(w, r)
		return
	case err != nil:
		l.log.ErrorContext(r.Context(), "issuance log: reading for a client", slog.String("path", r.URL.Path), slog.Any("error", err))
		http.Error(w, "issuance log unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	_, _ = w.Write(b)
}

// tilePath reports whether name is a tile or entry bundle path exactly as
// tlog-tiles spells it, and whether it is a partial one.
func tilePath(name string) (partial, ok bool) {
	rest, found := strings.CutPrefix(name, "tile/")
	if !found {
		return false, false
	}
	var canonical string
	if idx, isEntries := strings.CutPrefix(rest, "entries/"); isEntries {
		n, p, err := layout.ParseTileIndexPartial(idx)
		if err != nil {
			return false, false
		}
		canonical, partial = layout.EntriesPath(n, p), p > 0
	} else {
		level, idx, _ := strings.Cut(rest, "/")
		l, n, p, err := layout.ParseTileLevelIndexPartial(level, idx)
		if err != nil {
			return false, false
		}
		canonical, partial = layout.TilePath(l, n, p), p > 0
	}
	return partial, canonical == name
}

// serveFile answers with the regular file name of the log directory.
func (l *Log) serveFile(w http.ResponseWriter, r *http.Request, name, contentType, cache string) {
	f, err := l.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		l.log.ErrorContext(r.Context(), "issuance log: serving a file", slog.String("path", name), slog.Any("error", err))
		http.Error(w, "issuance log unavailable", http.StatusServiceUnavailable)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	modTime := info.ModTime()
	if name == layout.CheckpointPath {
		// Last-Modified has whole seconds; a checkpoint replaced within the
		// second it was fetched must not be answered 304.
		modTime = time.Time{}
	}
	http.ServeContent(w, r, "", modTime, f)
}
