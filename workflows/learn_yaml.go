package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// YAML renders the proposal as a workflow file, with comments that say how
// much evidence backs each part.
func (l *Learned) YAML() []byte {
	var b bytes.Buffer
	agent := l.Agent
	if agent == "" {
		agent = "agent"
	}
	fmt.Fprintf(&b, "# Proposed by `warden learn` from %s (%s) of agent %s.\n", counted(l.Sessions, "session"), counted(l.Calls, "call"), oneLine(agent))
	b.WriteString("# Review it before use: each part says how many sessions back it. Steps whose\n")
	b.WriteString("# tool name starts with a reading verb (get_, list_, search_, read_, find_, ...)\n")
	b.WriteString("# are anytime lookups; the others form the graph of the transitions seen.\n")
	fmt.Fprintf(&b, "agent: %s\n", yamlQuote(agent))
	fmt.Fprintf(&b, "purpose: %s\n", yamlQuote(fmt.Sprintf("Learned from %s; replace with what the agent is for.", counted(l.Sessions, "recorded session"))))
	b.WriteString("on_violation: step_up\n")
	fmt.Fprintf(&b, "budget:\n  max_calls: %d   # the longest session seen made %s\n", l.Budget, counted(l.MaxCalls, "call"))
	var start, anytime, terminal, starts []string
	for _, s := range l.Steps {
		switch {
		case s.Anytime:
			anytime = append(anytime, s.Name)
		case s.Start > 0:
			start = append(start, s.Name)
			starts = append(starts, fmt.Sprintf("%s in %d", s.Name, s.Start))
		}
		if s.Terminal {
			terminal = append(terminal, s.Name)
		}
	}
	if len(start) > 0 {
		fmt.Fprintf(&b, "start: %s   # first graph calls: %s of %d sessions\n", yamlList(start), oneLine(strings.Join(starts, ", ")), l.Sessions)
	}
	if len(anytime) > 0 {
		fmt.Fprintf(&b, "anytime: %s\n", yamlList(anytime))
	}
	if len(terminal) > 0 {
		fmt.Fprintf(&b, "terminal: %s   # never followed by a graph call\n", yamlList(terminal))
	}
	b.WriteString("steps:\n")
	for _, s := range l.Steps {
		s.render(&b, l.Sessions)
	}
	return b.Bytes()
}

// render writes one step with its evidence.
func (s LearnedStep) render(b *bytes.Buffer, sessions int) {
	fmt.Fprintf(b, "  # seen in %d of %d sessions, %s, at most %d in one session\n", s.Sessions, sessions, counted(s.Calls, "call"), s.MaxCalls)
	fmt.Fprintf(b, "  - name: %s\n", yamlQuote(s.Name))
	fmt.Fprintf(b, "    %s: %s\n", s.Kind, yamlQuote(s.Tool))
	fmt.Fprintf(b, "    budget: %d\n", s.Budget)
	if len(s.Next) > 0 {
		names := make([]string, len(s.Next))
		seen := make([]string, len(s.Next))
		for i, t := range s.Next {
			names[i] = t.To
			seen[i] = fmt.Sprintf("%s in %d", t.To, t.Sessions)
		}
		fmt.Fprintf(b, "    next: %s   # after it: %s\n", yamlList(names), oneLine(strings.Join(seen, ", ")))
	}
	if len(s.Trusted) > 0 {
		b.WriteString("    trusted_sources:\n")
		for _, a := range s.Trusted {
			fmt.Fprintf(b, "      # in the %d of %d calls that carried it, every value came from one of these; from a result's field in %d sessions\n", a.Calls, s.Calls, a.FromResult)
			if len(a.Weak) > 0 {
				fmt.Fprintf(b, "      # weak: %s is free text, where injected instructions arrive; some value had no better source\n", oneLine(strings.Join(a.Weak, ", ")))
			}
			fmt.Fprintf(b, "      %s: %s\n", yamlQuote(a.Arg), yamlList(a.Sources))
		}
	}
}

// yamlQuote writes a string as a YAML scalar: JSON's double-quoted form, which
// YAML reads the same.
func yamlQuote(s string) string {
	q, _ := json.Marshal(s) // a string always marshals
	return string(q)
}

// yamlList writes a flow sequence of quoted strings.
func yamlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = yamlQuote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// oneLine keeps text on one comment line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

func counted(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
