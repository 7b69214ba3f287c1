package throwaway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// maxConnections is the cluster's max_connections: room for several
// warden replicas on it, each with a pool of 32 (store/postgres), and
// whoever reads it besides.
const maxConnections = 300

// Postgres is a throwaway PostgreSQL cluster.
type Postgres struct {
	// URL is the empty database "warden" in the cluster, user "warden"
	// with trust authentication, over 127.0.0.1.
	URL string

	bin, dir, data string
	run            runner
	once           sync.Once
	stopErr        error
}

// runner builds the command that runs one of PostgreSQL's programs.
type runner func(ctx context.Context, name string, args ...string) *exec.Cmd

// StartPostgres starts a PostgreSQL cluster (initdb and pg_ctl in a
// temporary folder, listening on a free 127.0.0.1 port and a unix socket
// in that folder), with fsync and synchronous_commit on, and creates an
// empty database in it. PostgreSQL refuses to run as root, so as root the
// cluster runs as the postgres system user. Stop stops and removes it.
// Without PostgreSQL's programs the error wraps ErrMissing.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin, err := pgBin()
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL is %w (apt-get install postgresql): %v", ErrMissing, err)
	}
	dir, err := os.MkdirTemp("", "warden-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	p := &Postgres{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if p.URL, err = p.start(ctx); err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return p, nil
}

func (p *Postgres) start(ctx context.Context) (string, error) {
	var err error
	if p.run, err = pgRunner(p.dir); err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	if out, err := p.run(ctx, filepath.Join(p.bin, "initdb"), "-D", p.data, "-U", "warden", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		return "", fmt.Errorf("postgres: initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	logPath := filepath.Join(p.dir, "log")
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=on -c synchronous_commit=on -c max_connections=%d", port, p.dir, maxConnections)
	if out, err := p.run(ctx, filepath.Join(p.bin, "pg_ctl"), "-D", p.data, "-o", opts, "-l", logPath, "-w", "start").CombinedOutput(); err != nil {
		logText, _ := os.ReadFile(logPath)
		return "", fmt.Errorf("postgres: pg_ctl start: %w\n%s\n%s", err, out, logText)
	}
	base := fmt.Sprintf("postgres://warden@127.0.0.1:%d/", port)
	conn, err := pgx.Connect(ctx, base+"postgres?sslmode=disable")
	if err != nil {
		return "", fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE warden"); err != nil {
		return "", fmt.Errorf("postgres: create database: %w", err)
	}
	return base + "warden?sslmode=disable", nil
}

// Stop stops the cluster (fast shutdown: open connections are cut) and
// removes its folder, whatever the stop did. Calling it again returns the
// first call's error.
func (p *Postgres) Stop() error {
	p.once.Do(func() {
		if p.run != nil {
			// Not the caller's context: a cancelled run must still stop it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := os.Stat(filepath.Join(p.data, "postmaster.pid")); err == nil {
				if out, err := p.run(ctx, filepath.Join(p.bin, "pg_ctl"), "-D", p.data, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
					p.stopErr = fmt.Errorf("postgres: pg_ctl stop: %w\n%s", err, out)
				}
			}
		}
		if err := os.RemoveAll(p.dir); err != nil {
			p.stopErr = errors.Join(p.stopErr, fmt.Errorf("postgres: remove the cluster: %w", err))
		}
	})
	return p.stopErr
}

// pgBin finds the folder of initdb and pg_ctl: on PATH, else Debian's.
func pgBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("initdb is neither on PATH nor in /usr/lib/postgresql/*/bin")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// pgRunner returns how to run PostgreSQL's programs, each in a process
// group of its own: as ourselves, or as root as the postgres user, with
// dir handed over to it.
func pgRunner(dir string) (runner, error) {
	if os.Geteuid() != 0 {
		return func(ctx context.Context, name string, args ...string) *exec.Cmd {
			return ownGroup(exec.CommandContext(ctx, name, args...))
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
		return ownGroup(exec.CommandContext(ctx, runuser, append([]string{"-u", "postgres", "--", name}, args...)...))
	}, nil
}
