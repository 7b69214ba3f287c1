package testkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres starts a throwaway PostgreSQL cluster for t (initdb and pg_ctl
// in a temporary folder, listening on a free 127.0.0.1 port and a unix
// socket in that folder), creates an empty database in it and returns its
// URL. The cluster is stopped and removed at cleanup. It skips t only when
// PostgreSQL is not installed (.ci/run installs Debian's postgresql).
// PostgreSQL refuses to run as root, so as root the cluster runs as the
// postgres system user.
func Postgres(t testing.TB) string {
	t.Helper()
	bin, err := pgBin()
	if err != nil {
		t.Skipf("PostgreSQL is not installed (apt-get install postgresql): %v", err)
	}
	dir, err := os.MkdirTemp("", "warden-pg-")
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	run, err := pgRunner(dir)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := run(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "warden", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		t.Fatalf("postgres: initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=on -c synchronous_commit=on", port, dir)
	if out, err := run(ctx, filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		logText, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("postgres: pg_ctl start: %v\n%s\n%s", err, out, logText)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := run(ctx, filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
			t.Errorf("postgres: pg_ctl stop: %v\n%s", err, out)
		}
	})
	base := fmt.Sprintf("postgres://warden@127.0.0.1:%d/", port)
	conn, err := pgx.Connect(ctx, base+"postgres?sslmode=disable")
	if err != nil {
		t.Fatalf("postgres: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE warden"); err != nil {
		t.Fatalf("postgres: create database: %v", err)
	}
	return base + "warden?sslmode=disable"
}

// pgBin finds the folder of initdb and pg_ctl: on PATH, else Debian's.
func pgBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", fmt.Errorf("initdb is neither on PATH nor in /usr/lib/postgresql/*/bin")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// pgRunner returns how to run PostgreSQL's programs: as ourselves, or as
// root as the postgres user, with dir handed over to it.
func pgRunner(dir string) (func(ctx context.Context, name string, args ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return func(ctx context.Context, name string, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, name, args...)
		}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and there is no postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("hand %s to postgres: %w", dir, err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, fmt.Errorf("running as root, and runuser is missing: %w", err)
	}
	return func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
	}, nil
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
