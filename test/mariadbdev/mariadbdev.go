// Package mariadbdev starts a real MariaDB server for tests: a fresh data
// directory, mariadbd listening on a loopback port, one database and a
// user for it, stopped when the test ends. MariaDB comes from Debian's
// mariadb-server package, which test/tools/install.sh installs.
package mariadbdev

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running MariaDB.
type Server struct {
	// DSN reaches the test database as its user, in go-sql-driver form.
	DSN string
	// Socket is the server's Unix socket (root may log in there).
	Socket string
}

// Start runs MariaDB for t; it fails the test when MariaDB is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	bins := map[string]string{}
	for _, bin := range []string{"mariadbd", "mariadb-install-db", "mariadb"} {
		p, err := exec.LookPath(bin)
		if err != nil {
			p, err = exec.LookPath(filepath.Join("/usr/sbin", bin)) // not on every PATH
		}
		if err != nil {
			t.Fatalf("mariadbdev: %s is not installed: run test/tools/install.sh (it installs Debian's mariadb-server)", bin)
		}
		bins[bin] = p
	}
	dir, err := os.MkdirTemp("", "signet-mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "mysqld.sock")
	owner := []string{}
	if os.Geteuid() == 0 {
		// mariadbd refuses to run as root unless told which user to be.
		if u, err := user.Lookup("mysql"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(dir, uid, gid); err != nil {
				t.Fatal(err)
			}
			owner = []string{"--user=mysql"}
		} else {
			owner = []string{"--user=root"}
		}
	}
	install := exec.Command(bins["mariadb-install-db"], append(append([]string{"--no-defaults"}, owner...), "--datadir="+data, "--auth-root-authentication-method=socket", "--skip-test-db")...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadbdev: mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	logPath := filepath.Join(dir, "mariadb.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// --no-defaults must come first: no /etc/mysql config is read.
	cmd := exec.Command(bins["mariadbd"], append(append([]string{"--no-defaults"}, owner...), "--datadir="+data, "--socket="+sock,
		"--port="+strconv.Itoa(port), "--bind-address=127.0.0.1", "--pid-file="+filepath.Join(dir, "pid"),
		"--innodb-buffer-pool-size=32M", "--skip-name-resolve")...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("mariadbdev: start: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // mariadbd shuts down cleanly on TERM
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logFile.Close()
	})
	s := &Server{Socket: sock}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	setup := "CREATE DATABASE tessera; CREATE USER 'signet'@'127.0.0.1' IDENTIFIED BY 'signet-test'; GRANT ALL ON tessera.* TO 'signet'@'127.0.0.1';"
	for {
		out, err := exec.CommandContext(ctx, bins["mariadb"], "--socket="+sock, "-uroot", "-e", setup).CombinedOutput()
		if err == nil {
			break
		}
		select {
		case <-done:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("mariadbdev: mariadbd exited:\n%s", tail(string(log)))
		case <-ctx.Done():
			log, _ := os.ReadFile(logPath)
			t.Fatalf("mariadbdev: not ready in 30s: %v %s\n%s", err, out, tail(string(log)))
		case <-time.After(200 * time.Millisecond):
		}
	}
	s.DSN = fmt.Sprintf("signet:signet-test@tcp(127.0.0.1:%d)/tessera", port)
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
