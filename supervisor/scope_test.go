package supervisor

import (
	"encoding/json"
	"testing"

	"github.com/warden-dev/warden/eval"
)

func TestArgPins(t *testing.T) {
	amount := eval.Reads{Paths: [][]string{{"amount"}}}
	iban := eval.Reads{Paths: [][]string{{"to", "iban"}}}
	whole := eval.Reads{All: true}
	tests := []struct {
		name      string
		reads     eval.Reads
		seen, now string
		match     bool
	}{
		{"same amount, other payee", amount, `{"amount":250,"to":"a"}`, `{"to":"b","amount":250}`, true},
		{"other amount", amount, `{"amount":250}`, `{"amount":1000000}`, false},
		{"same number written otherwise", amount, `{"amount":250}`, `{"amount":250.0}`, true},
		{"amount as a string", amount, `{"amount":250}`, `{"amount":"250"}`, false},
		{"amount absent then present", amount, `{"to":"a"}`, `{"amount":1}`, false},
		{"amount null vs absent", amount, `{"amount":null}`, `{}`, false},
		{"nothing read", eval.Reads{}, `{"amount":250}`, `{"amount":1}`, true},
		{"nested same", iban, `{"to":{"iban":"NL1","name":"a"}}`, `{"to":{"name":"b","iban":"NL1"}}`, true},
		{"nested other", iban, `{"to":{"iban":"NL1"}}`, `{"to":{"iban":"NL2"}}`, false},
		{"nested not an object", iban, `{"to":"x"}`, `{"to":"y"}`, false},
		{"nested object vs absent", iban, `{"to":{}}`, `{"to":{"iban":null}}`, false},
		{"whole, keys reordered", whole, `{"a":1,"b":[1,{"c":2,"d":3}]}`, `{"b":[1,{"d":3,"c":2}],"a":1}`, true},
		{"whole, one more key", whole, `{"a":1}`, `{"a":1,"b":2}`, false},
		{"whole, not an object", whole, `[1,2]`, `[1,2]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pinArgs(tt.reads, json.RawMessage(tt.seen))
			if got := p.match(json.RawMessage(tt.now)); got != tt.match {
				t.Fatalf("pinned %v of %s; match(%s) = %v, want %v", tt.reads, tt.seen, tt.now, got, tt.match)
			}
			if !p.match(json.RawMessage(tt.seen)) {
				t.Fatalf("the call the approver saw does not match its own pins")
			}
		})
	}
}
