package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
)

// TestSlackPayload: with Slack set, the receiver gets {"text","blocks"}
// as Slack's incoming webhooks take it: a section, the context as fields,
// and the decision links as URL buttons in a fixed order. An agent's text
// cannot forge Slack links.
func TestSlackPayload(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, _ := newSender(t, []string{rc.URL}, func(o *Options) { o.Slack = true })
	m := testMessage()
	m.Reasons = []string{"to <https://evil.example|your bank> & more"}
	m.Links[store.DecisionDenyKill] = "https://warden.example/d?token=c"
	m.Links[store.DecisionSession] = "https://warden.example/d?token=d"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	d := rc.deliveries()[0]
	if d.verifyErr != nil {
		t.Fatalf("Slack deliveries are signed too when a secret is set: %v", d.verifyErr)
	}
	// Decode strictly into the shape Slack documents: a stray key fails.
	var p struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"fields"`
			Elements []struct {
				Type string `json:"type"`
				Text struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"text"`
				URL   string `json:"url"`
				Style string `json:"style"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	dec := json.NewDecoder(strings.NewReader(string(d.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("not Slack's shape: %v\n%s", err, d.body)
	}
	if p.Text != m.Text {
		t.Errorf("text = %q; want %q", p.Text, m.Text)
	}
	var types []string
	for _, b := range p.Blocks {
		types = append(types, b.Type)
	}
	if got := strings.Join(types, ","); got != "section,section,actions" {
		t.Fatalf("blocks %s; want section,section,actions\n%s", got, d.body)
	}
	if p.Blocks[0].Text == nil || p.Blocks[0].Text.Type != "mrkdwn" || !strings.Contains(p.Blocks[0].Text.Text, "approval.requested") {
		t.Errorf("first block: %+v", p.Blocks[0].Text)
	}
	var fields strings.Builder
	for _, f := range p.Blocks[1].Fields {
		if f.Type != "mrkdwn" {
			t.Errorf("field type %q", f.Type)
		}
		fields.WriteString(f.Text + "\n")
	}
	for _, want := range []string{"*Agent*\nbilling", "*Tool*\nrefund", "*Session*\ns-1", "10.0.0.7:5123", "lookup_customer → allow",
		"to &lt;https://evil.example|your bank&gt; &amp; more"} {
		if !strings.Contains(fields.String(), want) {
			t.Errorf("fields lack %q:\n%s", want, fields.String())
		}
	}
	var buttons []string
	for _, e := range p.Blocks[2].Elements {
		if e.Type != "button" || e.Text.Type != "plain_text" {
			t.Errorf("element %+v is not a plain_text button", e)
		}
		buttons = append(buttons, e.Text.Text+"="+e.URL)
	}
	want := "Approve once=https://warden.example/d?token=a|Approve for session=https://warden.example/d?token=d|" +
		"Deny=https://warden.example/d?token=b|Deny and kill session=https://warden.example/d?token=c"
	if got := strings.Join(buttons, "|"); got != want {
		t.Errorf("buttons\n %s\nwant\n %s", got, want)
	}
}

func TestSlackPayloadLimits(t *testing.T) {
	t.Parallel()
	m := Message{Type: TypeCallFlagged, Text: strings.Repeat("é", 5000), Reasons: []string{strings.Repeat("r", 3000)}}
	p := slackPayload(m)
	if n := len([]rune(p.Text)); n != slackTextMax {
		t.Errorf("text is %d runes; want cut to %d", n, slackTextMax)
	}
	if n := len([]rune(p.Blocks[0].Text.Text)); n > slackTextMax {
		t.Errorf("section text is %d runes; Slack allows %d", n, slackTextMax)
	}
	if n := len([]rune(p.Blocks[1].Fields[0].Text)); n > slackFieldMax {
		t.Errorf("field is %d runes; Slack allows %d", n, slackFieldMax)
	}
	for _, b := range p.Blocks {
		if b.Type == "actions" {
			t.Error("actions block without links")
		}
	}
}
