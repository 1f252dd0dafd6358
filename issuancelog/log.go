// Package issuancelog is signet's issuance log: every certificate signet
// issues is appended, as its DER and nothing else, to an append-only
// Merkle-tree log built on Tessera, before the certificate is returned.
//
// The log is stored by Tessera's POSIX driver as the C2SP tlog-tiles
// layout; Handler serves it read-only to monitors, and its checkpoints are
// C2SP signed notes made by an Ed25519 note key (Signer). Package audit
// holds the client side: verifying checkpoints, proving inclusion and
// searching the entries.
package issuancelog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/issuancelog/internal/tlog"
)

// Log appends issued certificates to the issuance log and serves it.
type Log struct {
	cfg      Config
	signer   Signer
	verifier note.Verifier
	log      *slog.Logger
	root     *os.Root          // the log directory (posix); nil for mysql
	db       *sql.DB           // the log database (mysql); nil for posix
	reader   tessera.LogReader // what Handler serves, from either storage

	group    *groupCommitter
	observe  BatchObserver
	shutdown func(context.Context) error
	cancel   context.CancelFunc

	// mu guards closed; appends hold it for reading while they register
	// in inflight, so Close sees every append that started.
	mu       sync.RWMutex
	closed   bool
	inflight sync.WaitGroup

	// started and failedAt (nanoseconds since started, 0 for none) record
	// the last append the storage failed or timed out, cleared by the next
	// that succeeds: Ready reports it for a while (appendFailureHold).
	started  time.Time
	failedAt atomic.Int64
}

// appendFailureHold is how long after an append the storage failed
// Ready reports not ready, unless an append succeeds meanwhile: long
// enough for load balancers to take the replica out, short enough that
// it comes back to try again (an unready replica gets no appends that
// would clear it).
const appendFailureHold = 10 * time.Second

// BatchObserver is told of every group of entries the log stored
// together: how many entries it held and how long the storage took to
// store it (from handing the group to Tessera until every entry was
// sequenced and durable). It runs on the log's writer, so it must be quick.
type BatchObserver func(entries int, took time.Duration)

// Option changes how Open runs a log.
type Option func(*Log)

// WithBatchObserver has observe told of every stored group, for metrics.
func WithBatchObserver(observe BatchObserver) Option {
	return func(l *Log) { l.observe = observe }
}

// Open checks the log directory of cfg (see checkDir: a directory signed
// by another key, or corrupt, is refused), then starts appending to it
// with checkpoints signed by signer, whose name must be cfg.Origin. Close
// the Log to stop its background work.
func Open(ctx context.Context, cfg Config, signer Signer, log *slog.Logger, opts ...Option) (*Log, error) {
	cfg = cfg.Effective()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("issuance log: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Type {
	case TypePOSIX:
	case TypeMySQL:
		return openDatabase(ctx, cfg, signer, log, opts)
	case TypeOff:
		return nil, errors.New("issuance log: log.type is off; check Config.Enabled before Open")
	default:
		return nil, fmt.Errorf("issuance log: log.type %q is not supported", cfg.Type)
	}
	v, err := checkSigner(signer, cfg.Origin)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("issuance log: creating the log directory: %w", err)
	}
	size, err := checkDir(ctx, cfg.Dir, v)
	if err != nil {
		return nil, fmt.Errorf("issuance log: %w", err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("issuance log: %w", err)
	}
	l := &Log{cfg: cfg, signer: signer, verifier: v, log: log, root: root, started: time.Now()}
	for _, o := range opts {
		o(l)
	}
	if err := l.start(ctx); err != nil {
		_ = root.Close()
		return nil, err
	}
	log.InfoContext(ctx, "issuance log open", slog.String("dir", cfg.Dir), slog.String("origin", cfg.Origin),
		slog.Uint64("checkpoint_size", size), slog.String("key", signer.VerifierKey()))
	return l, nil
}

// openDatabase opens a mysql log: it connects, applies tessera's schema,
// refuses a database whose checkpoint another key signed, and starts
// appending.
func openDatabase(ctx context.Context, cfg Config, signer Signer, log *slog.Logger, opts []Option) (*Log, error) {
	v, err := checkSigner(signer, cfg.Origin)
	if err != nil {
		return nil, err
	}
	dsn, err := cfg.dataSource()
	if err != nil {
		return nil, fmt.Errorf("issuance log: %w", err)
	}
	db, st, err := openMySQL(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("issuance log: %w", err)
	}
	size, err := checkStoredCheckpoint(ctx, st, v)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("issuance log: %w", err)
	}
	l := &Log{cfg: cfg, signer: signer, verifier: v, log: log, db: db, started: time.Now()}
	for _, o := range opts {
		o(l)
	}
	if err := l.run(ctx, st); err != nil {
		_ = db.Close()
		return nil, err
	}
	log.InfoContext(ctx, "issuance log open", slog.String("storage", "mysql"), slog.String("origin", cfg.Origin),
		slog.Uint64("checkpoint_size", size), slog.String("key", signer.VerifierKey()))
	return l, nil
}

// start runs tessera's appender on the log directory.
func (l *Log) start(ctx context.Context) error {
	driver, err := posix.New(ctx, posix.Config{Path: l.cfg.Dir})
	if err != nil {
		return fmt.Errorf("issuance log: %w", err)
	}
	return l.run(ctx, driver)
}

// run runs tessera's appender over driver. Its goroutines live until
// l.cancel, not until ctx (which only bounds starting).
func (l *Log) run(ctx context.Context, driver tessera.Driver) error {
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(l.signer).
		WithBatching(batchMaxSize, tesseraFlushAge).
		WithCheckpointInterval(l.cfg.CheckpointInterval).
		// Tessera requires republishing an unchanged tree no more often
		// than publishing a grown one.
		WithCheckpointRepublishInterval(max(tessera.DefaultCheckpointRepublishInterval, l.cfg.CheckpointInterval))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	app, shutdown, reader, err := tessera.NewAppender(runCtx, driver, opts)
	if err != nil {
		cancel()
		return fmt.Errorf("issuance log: starting tessera: %w", err)
	}
	l.group = newGroupCommitter(app.Add, l.cfg.BatchMaxAge, l.observe)
	l.shutdown, l.cancel, l.reader = shutdown, cancel, reader
	go l.group.run(runCtx)
	return nil
}

// checkSigner returns signer's verifier after checking that it is named
// origin and that its signatures verify with its own verifier key.
func checkSigner(signer Signer, origin string) (note.Verifier, error) {
	if signer == nil {
		return nil, errors.New("issuance log: no checkpoint signer")
	}
	if signer.Name() != origin {
		return nil, fmt.Errorf("issuance log: the checkpoint key is named %q but log.origin is %q; they must be equal", signer.Name(), origin)
	}
	v, err := tlog.ParseVerifier(signer.VerifierKey())
	if err != nil {
		return nil, fmt.Errorf("issuance log: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: "signet issuance log key check\n"}, signer)
	if err != nil {
		return nil, fmt.Errorf("issuance log: the checkpoint key cannot sign: %w", err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		return nil, fmt.Errorf("issuance log: the checkpoint key's signatures do not verify with its verifier key %s: %w", signer.VerifierKey(), err)
	}
	return v, nil
}

// VerifierKey is the note verifier key (name+hash+base64) of the log's
// checkpoints, for auditors to pin.
func (l *Log) VerifierKey() string { return l.signer.VerifierKey() }

// Origin is the log's name, the first line of its checkpoints.
func (l *Log) Origin() string { return l.cfg.Origin }

// Append adds a certificate, as DER, to the log and returns its index
// once the entry is sequenced and durably stored (not yet covered by a
// published checkpoint; that follows within CheckpointInterval). It fails
// with a 503 problem when the log cannot store it within AppendTimeout;
// the certificate must then not be returned. An entry that timed out may
// still be stored later. der is kept, not copied, until it is stored.
func (l *Log) Append(ctx context.Context, der []byte) (uint64, error) {
	if len(der) == 0 {
		return 0, errors.New("issuance log: empty entry")
	}
	if err := ctx.Err(); err != nil {
		return 0, problem.Unavailable("the request ended before the certificate was logged").WithCause(fmt.Errorf("issuance log append: %w", err))
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, problem.Unavailable("the issuance log is shutting down; try again").WithRetryAfter(time.Second)
	}
	l.inflight.Add(1)
	l.mu.RUnlock()

	ctx, cancel := context.WithTimeout(ctx, l.cfg.AppendTimeout)
	defer cancel()
	p := &pendingEntry{entry: tessera.NewEntry(der), result: make(chan addResult, 1), done: l.inflight.Done}
	err := l.group.submit(ctx, p)
	if err != nil {
		l.inflight.Done()
		err = fmt.Errorf("waiting for the entry to be queued: %w", err)
	} else {
		select {
		case r := <-p.result:
			if r.err == nil {
				l.failedAt.Store(0)
				return r.index.Index, nil
			}
			err = r.err
		case <-ctx.Done():
			err = fmt.Errorf("waiting for the entry to be stored: %w", context.Cause(ctx))
		}
	}
	if !errors.Is(err, context.Canceled) { // not the client going away
		l.failedAt.Store(max(int64(time.Since(l.started)), 1))
	}
	msg := "the issuance log could not record the certificate; try again"
	if storageFull(err) {
		msg = "the issuance log's storage is full (no space left), so no certificate was issued; try again later"
	}
	return 0, problem.Unavailable("%s", msg).
		WithCause(fmt.Errorf("issuance log append: %w", err)).WithRetryAfter(time.Second)
}

// storageFull reports whether err is the log's disk or quota running out:
// an errno, or a MySQL/MariaDB server's "table is full" (1114) or "disk
// full" (1021). Tessera's drivers format some errors with %v, which breaks
// the chain, so the error text is matched as well.
func storageFull(err error) bool {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		if errors.Is(err, errno) || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(errno.Error())) {
			return true
		}
	}
	if me := new(gomysql.MySQLError); errors.As(err, &me) && (me.Number == mysqlTableFull || me.Number == mysqlDiskFull) {
		return true
	}
	text := err.Error()
	return strings.Contains(text, fmt.Sprintf("Error %d", mysqlTableFull)) || strings.Contains(text, fmt.Sprintf("Error %d", mysqlDiskFull))
}

// MySQL server error numbers of a full storage.
const (
	mysqlTableFull = 1114 // ER_RECORD_FILE_FULL: "The table '...' is full"
	mysqlDiskFull  = 1021 // ER_DISK_FULL
)

// Close stops accepting appends, waits for those under way and for a
// checkpoint covering them, then stops tessera's background work. ctx
// bounds the wait; background work stops even when it expires.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	if l.root != nil {
		defer l.root.Close()
	}
	if l.db != nil {
		defer l.db.Close()
	}
	defer l.cancel()

	drained := make(chan struct{})
	go func() {
		l.inflight.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
		return fmt.Errorf("issuance log: closing with appends under way: %w", ctx.Err())
	}
	if err := l.shutdown(ctx); err != nil {
		return fmt.Errorf("issuance log: waiting for the last checkpoint: %w", err)
	}
	return nil
}
