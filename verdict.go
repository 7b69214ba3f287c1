package warden

import (
	"fmt"
	"strings"
)

// Verdict is warden's answer to one tool call. Verdicts are ordered, from
// the mildest to the strongest: when several checks fire, the strongest wins.
type Verdict int

// The verdict ladder: allow < flag < throttle < step_up < deny < kill.
const (
	Allow    Verdict = iota // forward the call
	Flag                    // forward it, and record and alert
	Throttle                // delay or refuse it for rate
	StepUp                  // hold it for a human approver
	Deny                    // refuse it with a reason
	Kill                    // refuse it and end the session
)

var verdictNames = [...]string{"allow", "flag", "throttle", "step_up", "deny", "kill"}

// String returns the verdict's name as it appears in files and history.
func (v Verdict) String() string {
	if v < Allow || v > Kill {
		return fmt.Sprintf("verdict(%d)", int(v))
	}
	return verdictNames[v]
}

// ParseVerdict reads a verdict's name ("allow", "flag", "throttle",
// "step_up", "deny", "kill"); "step-up" and "stepup" are accepted too.
func ParseVerdict(s string) (Verdict, error) {
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	if norm == "stepup" {
		norm = "step_up"
	}
	for i, name := range verdictNames {
		if name == norm {
			return Verdict(i), nil
		}
	}
	return Allow, fmt.Errorf("unknown verdict %q (want one of %s)", s, strings.Join(verdictNames[:], ", "))
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) {
	if v < Allow || v > Kill {
		return nil, fmt.Errorf("invalid verdict %d", int(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText reads a verdict's name.
func (v *Verdict) UnmarshalText(b []byte) error {
	parsed, err := ParseVerdict(string(b))
	if err != nil {
		return err
	}
	*v = parsed
	return nil
}

// Max returns the stronger of two verdicts.
func Max(a, b Verdict) Verdict {
	if b > a {
		return b
	}
	return a
}
