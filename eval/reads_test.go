package eval

import (
	"reflect"
	"testing"
)

func TestProgramReads(t *testing.T) {
	tests := []struct {
		src   string
		paths [][]string
		all   bool
	}{
		{src: `args.amount <= 10`, paths: [][]string{{"amount"}}},
		{src: `call.args.amount <= 10 && call.tool == "pay"`, paths: [][]string{{"amount"}}},
		{src: `args.to.iban in vars.accounts`, paths: [][]string{{"to", "iban"}}},
		{src: `args["to"]["iban"] == "x"`, paths: [][]string{{"to", "iban"}}},
		{src: `args?.to?.iban == "x"`, paths: [][]string{{"to", "iban"}}},
		{src: `len(args.recipients) > 1 || args.amount > 5`, paths: [][]string{{"amount"}, {"recipients"}}},
		{src: `args.recipients[0] == "x"`, paths: [][]string{{"recipients"}}},
		{src: `all(args.items, .amount < 100)`, paths: [][]string{{"items"}}},
		{src: `args.list[args.i] == 1`, paths: [][]string{{"i"}, {"list"}}},
		{src: `call.tool == "pay" && session.calls > 3`},
		{src: `vars.x == 1 && last("pay") != nil`},
		{src: `"amount" in args`, all: true},
		{src: `len(args) > 2`, all: true},
		{src: `args[vars.key] == 1`, all: true},
		{src: `toJSON(call) contains "x"`, all: true},
		{src: `$env.args.amount > 1`, paths: [][]string{{"amount"}}},
		{src: `$env["call"]["args"]["amount"] > 1`, paths: [][]string{{"amount"}}},
		{src: `len($env) > 1`, all: true},
		{src: `let a = args; a.amount > 1`, all: true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, err := Compile(tt.src, Guard)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Reads()
			if got.All != tt.all || !reflect.DeepEqual(got.Paths, tt.paths) {
				t.Fatalf("Reads() = %+v, want paths %v all %v", got, tt.paths, tt.all)
			}
		})
	}
}
