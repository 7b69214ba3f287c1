package bench

import (
	"context"
	"os"
	"runtime/pprof"
	"testing"
	"time"
)

func TestZZProfile(t *testing.T) {
	if os.Getenv("WARDEN_PROFILE") == "" {
		t.Skip("set WARDEN_PROFILE")
	}
	f, _ := os.Create("/tmp/cpu.prof")
	pprof.StartCPUProfile(f)
	res, err := Run(context.Background(), Options{Duration: 6 * time.Second, Sessions: []int{16}, Dir: t.TempDir()})
	pprof.StopCPUProfile()
	t.Log(res, err)
}
