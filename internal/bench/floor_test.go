package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// TestDurableHopRecordsEachCall checks the floor's handler: each call
// through it leaves two durable events in its session's history, the
// call's and then the result's, on a chain that verifies, and the echo
// still answers.
func TestDurableHopRecordsEachCall(t *testing.T) {
	ctx := context.Background()
	r, upURL, db := echoRig(t)
	url, stop, err := startDurableHop(ctx, upURL, r.serve, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	const calls = 5
	for range 2 {
		c, err := dial(ctx, url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		for range calls {
			if _, err := echo(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := db.Events(ctx, c.GetSessionId())
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2*calls {
			t.Fatalf("%d events for %d calls, want two each", len(evs), calls)
		}
		for i, ev := range evs {
			if want := []string{store.KindCall, store.KindResult}[i%2]; ev.Kind != want || ev.Tool != "echo" {
				t.Fatalf("event %d is a %s of %q, want a %s of echo", i, ev.Kind, ev.Tool, want)
			}
		}
	}
	if got := db.LogStats().Appends; got != 4*calls {
		t.Fatalf("%d appends made durable, want %d", got, 4*calls)
	}
	rep, err := db.Verify(ctx)
	if err != nil || len(rep.Broken) != 0 || rep.Events != 4*calls {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// TestRunMeasuresTheFloor checks that Floor adds hop-durable right after
// the hop at each level, with the log's figures that show its appends
// were made and waited for, and that the PostgreSQL comparison refuses it.
func TestRunMeasuresTheFloor(t *testing.T) {
	res, err := Run(context.Background(), Options{Duration: time.Second, Sessions: []int{2}, Dir: t.TempDir(), Floor: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Mode)
		if r.Mode != floorMode {
			continue
		}
		if r.CallsPerSec <= 0 || r.EventsPerFsync <= 0 || r.WaitPerDurablePointUs <= 0 || r.LogFsyncMeanUs <= 0 || r.LimitCallsPerSec <= 0 {
			t.Fatalf("%+v: the floor's log figures not measured", r)
		}
	}
	if want := "direct hop hop-durable warden warden-per-session"; strings.Join(got, " ") != want {
		t.Fatalf("modes %v, want %s", got, want)
	}
	_, err = Run(context.Background(), Options{Duration: time.Second, Sessions: []int{1}, Dir: t.TempDir(), Floor: true, PostgresURL: "postgres://127.0.0.1:1/x"})
	if err == nil || !strings.Contains(err.Error(), "bbolt run only") {
		t.Fatalf("Floor with PostgreSQL = %v, want a refusal", err)
	}
}
