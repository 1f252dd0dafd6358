package issuancelog

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"

	// The MySQL protocol driver database/sql needs for log.type mysql.
	_ "github.com/go-sql-driver/mysql"
	"github.com/transparency-dev/tessera/storage/mysql"
	"golang.org/x/mod/sumdb/note"

	"github.com/signet-dev/signet/issuancelog/internal/tlog"
)

// mysqlSchema is tessera's storage/mysql/schema.sql, which the driver
// does not export; it is idempotent.
//
//go:embed mysql_schema.sql
var mysqlSchema string

// openMySQL connects to the database of dsn, applies tessera's schema and
// returns the database and tessera's MySQL driver over it. Tessera's
// authors test it on MySQL 8.4; signet's tests run it on MariaDB 10.11.
func openMySQL(ctx context.Context, dsn string) (*sql.DB, *mysql.Storage, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("log.dsn: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("reaching the log database: %w", err)
	}
	for _, stmt := range schemaStatements(mysqlSchema) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			_ = db.Close()
			return nil, nil, fmt.Errorf("applying tessera's schema: %w", err)
		}
	}
	st, err := mysql.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("tessera mysql: %w", err)
	}
	return db, st, nil
}

// schemaStatements splits a SQL script into its statements, dropping
// comment lines.
func schemaStatements(script string) []string {
	var lines []string
	for _, line := range strings.Split(script, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
			lines = append(lines, line)
		}
	}
	var out []string
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s := strings.TrimSpace(stmt); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// checkStoredCheckpoint refuses a database whose published checkpoint is
// not this log's: signed by another key, for another origin, or corrupt.
func checkStoredCheckpoint(ctx context.Context, st *mysql.Storage, v note.Verifier) (uint64, error) {
	raw, err := st.ReadCheckpoint(ctx)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(raw) == 0) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the published checkpoint: %w", err)
	}
	cp, err := tlog.OpenCheckpoint(raw, v)
	if err != nil {
		return 0, fmt.Errorf("refusing to append: the database's checkpoint is not this log's: %w", err)
	}
	return cp.Size, nil
}
