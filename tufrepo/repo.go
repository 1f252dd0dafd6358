package tufrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Targets is the content the repository publishes.
type Targets struct {
	// Files are the target files by name, e.g. "trusted_root.json".
	Files map[string][]byte
	// Since is when this content became current (the newest chain's start):
	// metadata for it never has a version below Since's Unix time in
	// milliseconds, so a rotation published within a period still gets a
	// new version.
	Since time.Time
}

// Options configure a Repository.
type Options struct {
	// Root is the current signed root.json (`signet tuf init`, then
	// `signet tuf rotate-root`).
	Root []byte
	// PreviousRoots are the earlier versions of the root, 1 to the
	// current one's less one, in any order: a client that pinned one of
	// them walks them to the current root. Empty for version 1.
	PreviousRoots [][]byte
	// Signer is the online key of the targets, snapshot and timestamp roles.
	Signer Signer
	// Targets returns the current content; it is called on every
	// metadata request and must be cheap.
	Targets func() Targets
	// Period is how often new metadata versions are signed: every version
	// number is the Unix time in milliseconds a period starts at (or the
	// content became current at, if later), so replicas
	// with the same clock agree on it. Whole seconds, at least one.
	Period time.Duration
	// Expiry is how long each version's timestamp, snapshot and targets
	// stay valid after its period starts; at least two periods.
	Expiry time.Duration
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Log receives what the repository does; nil discards it.
	Log *slog.Logger
}

// keptVersions is how many recent versions stay fetchable, for a client
// that read the timestamp just before a new period began.
const keptVersions = 3

// Repository is a TUF repository over one root and one online key. It is
// safe for concurrent use.
type Repository struct {
	opts        Options
	rootVersion int64
	rootExpires time.Time
	earlier     map[int64][]byte // the earlier root versions, by version

	mu       sync.Mutex
	versions []*published // oldest first, at most keptVersions
}

// published is one signed version of the online metadata.
type published struct {
	version                      int64
	expires                      time.Time
	content                      string // digest of the target files
	timestamp, snapshot, targets []byte
	// files are the target files by their consistent-snapshot name,
	// "<sha256 hex>.<name>".
	files map[string][]byte
}

// New checks the root against the online key and the clock and returns a
// repository that signs metadata on demand.
func New(opts Options) (*Repository, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.Signer == nil || opts.Targets == nil:
		return nil, errors.New("tufrepo: a signer and targets are required")
	case opts.Period < time.Second || opts.Period%time.Second != 0:
		return nil, fmt.Errorf("tufrepo: period %s is not a whole number of seconds", opts.Period)
	case opts.Expiry < 2*opts.Period:
		return nil, fmt.Errorf("tufrepo: expiry %s is shorter than two periods (%s)", opts.Expiry, 2*opts.Period)
	}
	root, err := checkRoot(opts.Root, opts.Signer.Public(), opts.Clock())
	if err != nil {
		return nil, err
	}
	earlier, err := checkRootChain(opts.PreviousRoots, root)
	if err != nil {
		return nil, err
	}
	return &Repository{opts: opts, rootVersion: root.Signed.Version, rootExpires: root.Signed.Expires, earlier: earlier}, nil
}

// RootVersion is the version of the served root.
func (r *Repository) RootVersion() int64 { return r.rootVersion }

// RootExpires is when the served root expires.
func (r *Repository) RootExpires() time.Time { return r.rootExpires }

// current returns the metadata for now, signing a new version when a
// period began or the content changed since the last one.
func (r *Repository) current(ctx context.Context) (*published, error) {
	now := r.opts.Clock()
	t := r.opts.Targets()
	period := r.opts.Period.Milliseconds()
	start := now.UnixMilli() - mod(now.UnixMilli(), period)
	version := max(start, t.Since.UnixMilli(), 1)
	content := digest(t.Files)

	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.versions); n > 0 {
		last := r.versions[n-1]
		switch {
		case version <= last.version && content == last.content && now.Before(last.expires):
			return last, nil // nothing new, or the clock stepped back
		case version <= last.version && content == last.content:
			// The last version expired while still the newest (a version
			// floor far ahead of this clock): never serve it expired.
			version = last.version + 1
			r.opts.Log.Warn("TUF metadata expired under a version still current; signing the next version", "version", version)
		case version <= last.version:
			// New content under a version already served: sign the next
			// one, so a client that holds the old targets fetches anew.
			version = last.version + 1
			r.opts.Log.Warn("TUF targets changed within a version; signing the next version", "version", version)
		}
	}
	expires := time.UnixMilli(start).Add(r.opts.Expiry)
	p, err := r.sign(ctx, version, expires, t.Files, content)
	if err != nil {
		// The key store is down: the last version stays valid until its
		// own expiry, and clients are better served by it than by a 503.
		if n := len(r.versions); n > 0 && now.Before(r.versions[n-1].expires) {
			last := r.versions[n-1]
			r.opts.Log.Warn("TUF metadata cannot be signed; serving the last version until it expires",
				"version", last.version, "expires", last.expires.UTC().Format(time.RFC3339), "error", err)
			return last, nil
		}
		return nil, err
	}
	p.expires = expires
	r.versions = append(r.versions, p)
	if len(r.versions) > keptVersions {
		r.versions = slices.Delete(r.versions, 0, len(r.versions)-keptVersions)
	}
	r.opts.Log.Info("TUF metadata signed", "version", version, "expires", expires.UTC().Format(time.RFC3339))
	return p, nil
}

// sign builds and signs targets, snapshot and timestamp of one version.
// Snapshot and timestamp name the version of what they cover and no
// hashes, so metadata signed by different replicas (or with an ECDSA key,
// whose signatures differ each time) is interchangeable.
func (r *Repository) sign(ctx context.Context, version int64, expires time.Time, files map[string][]byte, content string) (*published, error) {
	expires = expires.UTC()
	p := &published{version: version, content: content, files: map[string][]byte{}}
	targets := metadata.Targets(expires)
	targets.Signed.Version = version
	for _, name := range slices.Sorted(maps.Keys(files)) {
		tf, err := metadata.TargetFile().FromBytes(name, files[name], "sha256")
		if err != nil {
			return nil, fmt.Errorf("tufrepo: target %s: %w", name, err)
		}
		targets.Signed.Targets[name] = tf
		sum := sha256.Sum256(files[name])
		p.files[hex.EncodeToString(sum[:])+"."+name] = files[name]
	}
	snapshot := metadata.Snapshot(expires)
	snapshot.Signed.Version = version
	snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(version)
	timestamp := metadata.Timestamp(expires)
	timestamp.Signed.Version = version
	timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(version)

	var err error
	if p.targets, err = signed(ctx, targets, r.opts.Signer); err != nil {
		return nil, err
	}
	if p.snapshot, err = signed(ctx, snapshot, r.opts.Signer); err != nil {
		return nil, err
	}
	if p.timestamp, err = signed(ctx, timestamp, r.opts.Signer); err != nil {
		return nil, err
	}
	return p, nil
}

// signed signs meta and returns its JSON.
func signed[T metadata.Roles](ctx context.Context, meta *metadata.Metadata[T], s Signer) ([]byte, error) {
	if err := sign(ctx, meta, s); err != nil {
		return nil, &SigningError{Err: err}
	}
	b, err := meta.ToBytes(false)
	if err != nil {
		return nil, fmt.Errorf("tufrepo: encoding metadata: %w", err)
	}
	return b, nil
}

// SigningError is a failure of the online key: the repository cannot
// serve fresh metadata until it signs again.
type SigningError struct {
	// Err is the key's failure.
	Err error
}

// Error says the online key failed and why.
func (e *SigningError) Error() string { return "tufrepo: signing metadata: " + e.Err.Error() }

// Unwrap returns the signer's error.
func (e *SigningError) Unwrap() error { return e.Err }

// find returns the kept version v, signing the current one first.
func (r *Repository) find(ctx context.Context, v int64) (*published, error) {
	if _, err := r.current(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.versions {
		if p.version == v {
			return p, nil
		}
	}
	return nil, nil
}

// targetFile returns a kept target file by its consistent-snapshot name.
func (r *Repository) targetFile(ctx context.Context, name string) ([]byte, error) {
	if _, err := r.current(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.versions) - 1; i >= 0; i-- {
		if b, ok := r.versions[i].files[name]; ok {
			return b, nil
		}
	}
	return nil, nil
}

// digest identifies a set of target files.
func digest(files map[string][]byte) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		sum := sha256.Sum256(files[name])
		fmt.Fprintf(h, "%s\x00%x\n", name, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// mod is the non-negative remainder of a / b.
func mod(a, b int64) int64 { return ((a % b) + b) % b }
