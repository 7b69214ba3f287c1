package notify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/warden-dev/warden/store"
)

// Slack's Block Kit, the part that an incoming webhook accepts: a text
// fallback (notifications, old clients) and blocks for the message itself.
// Decision links become URL buttons, so deciding is one click that opens
// the link in the approver's browser.

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string         `json:"type"`
	Text     *slackText     `json:"text,omitempty"`
	Fields   []slackText    `json:"fields,omitempty"`
	Elements []slackElement `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackElement struct {
	Type  string    `json:"type"`
	Text  slackText `json:"text"`
	URL   string    `json:"url"`
	Style string    `json:"style,omitempty"`
}

// Slack's limits: a section's text 3,000 characters, a field 2,000, ten
// fields per section, a button's label 75.
const (
	slackTextMax  = 3000
	slackFieldMax = 2000
)

// decisionButtons names the known decisions in the order shown.
var decisionButtons = []struct{ decision, label, style string }{
	{store.DecisionOnce, "Approve once", "primary"},
	{store.DecisionSession, "Approve for session", ""},
	{store.DecisionDeny, "Deny", "danger"},
	{store.DecisionDenyKill, "Deny and kill session", "danger"},
}

func slackPayload(m Message) slackMessage {
	text := m.Text
	if text == "" {
		text = m.Type
	}
	out := slackMessage{Text: truncate(text, slackTextMax)}
	out.Blocks = append(out.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn",
		Text: truncate("*"+slackEscape(m.Type)+"*  "+slackEscape(text), slackTextMax)}})

	var fields []slackText
	field := func(name, value string) {
		if value != "" {
			fields = append(fields, slackText{Type: "mrkdwn", Text: truncate("*"+name+"*\n"+slackEscape(value), slackFieldMax)})
		}
	}
	field("Agent", m.Agent)
	field("Session", m.Session)
	if a := m.Approval; a != nil {
		field("Tool", a.Tool)
		field("State", strings.TrimSpace(a.State+" "+a.Decision))
		field("Decided by", a.DecidedBy)
		if !a.Expires.IsZero() && a.State == store.ApprovalPending {
			field("Expires", a.Expires.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
	}
	field("Remote address", m.RemoteAddr)
	field("Client", m.Client)
	field("Reasons", strings.Join(m.Reasons, "\n"))
	if len(m.Recent) > 0 {
		var b strings.Builder
		for _, c := range m.Recent {
			fmt.Fprintf(&b, "%s %s → %s\n", c.Time.UTC().Format("15:04:05"), c.Tool, c.Verdict)
		}
		field("Recent calls", strings.TrimSuffix(b.String(), "\n"))
	}
	for chunk := range slices.Chunk(fields, 10) {
		out.Blocks = append(out.Blocks, slackBlock{Type: "section", Fields: chunk})
	}

	var buttons []slackElement
	seen := map[string]bool{}
	for _, d := range decisionButtons {
		if u := m.Links[d.decision]; u != "" {
			buttons = append(buttons, slackElement{Type: "button", Text: slackText{Type: "plain_text", Text: d.label}, URL: u, Style: d.style})
		}
		seen[d.decision] = true
	}
	for _, name := range slices.Sorted(maps.Keys(m.Links)) {
		if !seen[name] && m.Links[name] != "" {
			buttons = append(buttons, slackElement{Type: "button", Text: slackText{Type: "plain_text", Text: truncate(name, 75)}, URL: m.Links[name]})
		}
	}
	if len(buttons) > 0 {
		out.Blocks = append(out.Blocks, slackBlock{Type: "actions", Elements: buttons[:min(len(buttons), 25)]})
	}
	return out
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning
// to, so that an agent's arguments cannot forge links or mentions.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
