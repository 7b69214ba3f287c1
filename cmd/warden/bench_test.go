package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/internal/throwaway"
)

// TestBenchRefusesBadFlags: a concurrency level that is not a number of
// sessions, a database variable without --store postgres, a variable
// that holds nothing, and --floor with PostgreSQL are refused before anything is measured, naming the
// flag.
func TestBenchRefusesBadFlags(t *testing.T) {
	t.Setenv("BENCH_PG_EMPTY", "")
	for _, tc := range []struct {
		name string
		cmd  benchCmd
		want string
	}{
		{"zero sessions", benchCmd{Sessions: []int{0}}, "--sessions"},
		{"negative sessions", benchCmd{Sessions: []int{1, -16}}, "--sessions"},
		{"url without postgres", benchCmd{Sessions: []int{1}, Store: "bbolt", PostgresURLEnv: "BENCH_PG_EMPTY"}, "--postgres-url-env is for --store postgres"},
		{"empty variable", benchCmd{Sessions: []int{1}, Store: "postgres", PostgresURLEnv: "BENCH_PG_EMPTY"}, "$BENCH_PG_EMPTY is empty or unset"},
		{"floor with postgres", benchCmd{Sessions: []int{1}, Store: "postgres", Floor: true}, "--floor is for --store bbolt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cmd.Dir = t.TempDir()
			_, err := printed(tc.cmd.Run)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("bench = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestBenchPostgresPrintsEveryMode: `warden bench --store postgres
// --postgres-url-env NAME` measures the four modes on the named database
// and prints each with its store, without printing the URL.
func TestBenchPostgresPrintsEveryMode(t *testing.T) {
	url := testkit.Postgres(t)
	t.Setenv("BENCH_PG_URL", url)
	cmd := benchCmd{Duration: time.Second, Sessions: []int{2}, Dir: t.TempDir(), Store: "postgres", PostgresURLEnv: "BENCH_PG_URL"}
	out, err := printed(cmd.Run)
	if errors.Is(err, throwaway.ErrMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			rows[strings.Join(f[:4], " ")] = true
		}
	}
	for _, want := range []string{"hop none 0 2", "warden bbolt 1 2", "warden-postgres postgres 1 2", "warden-postgres-3-replicas postgres 3 2"} {
		if !rows[want] {
			t.Errorf("bench printed no row %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "is forwarded there, and that hop is in its figures") {
		t.Errorf("bench did not say what the replicas' figure includes:\n%s", out)
	}
	if strings.Contains(out, url) {
		t.Errorf("bench printed the database URL:\n%s", out)
	}
}

// TestBenchFloorPrintsItsRow: `warden bench --floor` prints a hop-durable
// row at each level, with the log's columns filled in as warden's are.
func TestBenchFloorPrintsItsRow(t *testing.T) {
	cmd := benchCmd{Duration: time.Second, Sessions: []int{2}, Dir: t.TempDir(), Store: "bbolt", Floor: true}
	out, err := printed(cmd.Run)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 14 || f[0] != "hop-durable" {
			continue
		}
		if f[1] != "2" || f[8] == "-" || f[10] == "-" {
			t.Fatalf("hop-durable row without the log's columns: %q", line)
		}
		return
	}
	t.Fatalf("bench --floor printed no hop-durable row:\n%s", out)
}
