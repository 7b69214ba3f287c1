package eval

import (
	"fmt"
	"sync"
	"testing"

	"github.com/expr-lang/expr"
)

// TestProgramReusesVMs: a Program runs on machines it keeps for reuse,
// so a run allocates less than expr.Run, which makes a machine and its
// stack each time; runs at once, on several goroutines, each get the
// answer for their own environment.
func TestProgramReusesVMs(t *testing.T) {
	p, err := Compile(`args.amount > 100 && call.tool in ["pay", "refund"]`, Guard)
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Call: CallEnv{Tool: "pay"}, Args: map[string]any{"amount": 150.0}}
	p.Run(env) // the pool's first machine
	reused := testing.AllocsPerRun(200, func() { p.Run(env) })
	fresh := testing.AllocsPerRun(200, func() { expr.Run(p.prog, env) })
	if reused >= fresh {
		t.Errorf("Program.Run allocates %.0f a run, expr.Run %.0f: the machine is not reused", reused, fresh)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				amount := float64(g*100 + i%3)
				e := &Env{Call: CallEnv{Tool: "refund"}, Args: map[string]any{"amount": amount}}
				got, err := p.Bool(e)
				if err != nil || got != (amount > 100) {
					errs <- fmt.Errorf("amount %v: %v, %v; want %v", amount, got, err, amount > 100)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
