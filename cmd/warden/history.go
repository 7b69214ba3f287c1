package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// historyFlags say where the history is: the configuration's bbolt file
// when warden is not running, else its admin API.
type historyFlags struct {
	Config        string `short:"c" help:"Configuration file: its data_dir, or its admin API when warden is running." xor:"where" required:""`
	DB            string `help:"A bbolt history file to read directly." xor:"where" required:"" type:"existingfile"`
	AdminTokenEnv string `help:"Environment variable holding the admin token, for the admin API." default:"WARDEN_ADMIN_TOKEN"`
	JSON          bool   `help:"Print JSON for machines."`
}

// history is read access to recorded sessions, local or remote.
type history interface {
	Sessions(ctx context.Context, f store.Filter) ([]store.Session, error)
	// Rows are the sessions as the session list shows them.
	Rows(ctx context.Context, f store.Filter) ([]supervisor.SessionRow, error)
	Session(ctx context.Context, id string) (supervisor.SessionView, error)
	Verify(ctx context.Context) (store.Report, error)
	Close() error
}

func (h historyFlags) open() (history, error) {
	path := h.DB
	var adminURL string
	if h.Config != "" {
		cfg, err := loadConfig(h.Config)
		if err != nil {
			return nil, err
		}
		if cfg.Store.Postgres != nil {
			// PostgreSQL serves readers while warden writes.
			db, err := openPostgres(context.Background(), cfg)
			if err != nil {
				return nil, err
			}
			return localHistory{db}, nil
		}
		path = dbPath(cfg)
		if cfg.Admin != nil {
			adminURL = "http://" + cfg.Admin.Listen
		}
	}
	db, err := store.Open(path, store.WithLockTimeout(300*time.Millisecond))
	if err == nil {
		return localHistory{db}, nil
	}
	if adminURL == "" || !strings.Contains(err.Error(), "locked") {
		return nil, err
	}
	// warden holds the file: ask it.
	token := os.Getenv(h.AdminTokenEnv)
	if token == "" {
		return nil, fmt.Errorf("%w\nwarden is running; to use its admin API at %s set %s to the admin token", err, adminURL, h.AdminTokenEnv)
	}
	return &remoteHistory{base: adminURL, token: token}, nil
}

// localHistory reads a store directly: the bbolt file, or PostgreSQL.
type localHistory struct{ store.Store }

func (l localHistory) Rows(ctx context.Context, f store.Filter) ([]supervisor.SessionRow, error) {
	return supervisor.SessionRows(ctx, l.Store, f)
}

func (l localHistory) Session(ctx context.Context, id string) (supervisor.SessionView, error) {
	s, err := l.Store.Session(ctx, id)
	if err != nil {
		return supervisor.SessionView{}, err
	}
	evs, err := l.Store.Events(ctx, id)
	return supervisor.SessionView{Session: s, Events: evs}, err
}

// isNotFound reports whether a history has no such session.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

type remoteHistory struct{ base, token string }

func (r *remoteHistory) Close() error { return nil }

func (r *remoteHistory) get(ctx context.Context, path string, q url.Values, out any) error {
	return r.send(ctx, http.MethodGet, path, q, nil, out)
}

// send makes one request of the admin API, with body as JSON when it is
// not nil, and decodes a 200 answer into out.
func (r *remoteHistory) send(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(answer, &e)
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("admin API: %s: %s: %w", resp.Status, e.Error, store.ErrNotFound)
		}
		return fmt.Errorf("admin API: %s: %s", resp.Status, e.Error)
	}
	return json.Unmarshal(answer, out)
}

func (r *remoteHistory) Sessions(ctx context.Context, f store.Filter) ([]store.Session, error) {
	rows, err := r.Rows(ctx, f)
	out := make([]store.Session, len(rows))
	for i, row := range rows {
		out[i] = row.Session
	}
	return out, err
}

func (r *remoteHistory) Rows(ctx context.Context, f store.Filter) ([]supervisor.SessionRow, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("agent", f.Agent)
	set("state", f.State)
	if !f.Since.IsZero() {
		set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		set("limit", fmt.Sprint(f.Limit))
	}
	var out []supervisor.SessionRow
	return out, r.get(ctx, "/v1/sessions", q, &out)
}

func (r *remoteHistory) Session(ctx context.Context, id string) (supervisor.SessionView, error) {
	var v supervisor.SessionView
	if err := r.get(ctx, "/v1/sessions/"+url.PathEscape(id), nil, &v); err != nil {
		return v, err
	}
	// The admin API indents its JSON, the events' raw args and data with
	// it: compact them back, so that each event stays on one line of the
	// timeline, as it does when read from the file.
	for i := range v.Events {
		v.Events[i].Args = compactJSON(v.Events[i].Args)
		v.Events[i].Data = compactJSON(v.Events[i].Data)
	}
	return v, nil
}

// compactJSON returns raw without insignificant space, or raw as it is
// when it does not parse.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func (r *remoteHistory) Verify(ctx context.Context) (store.Report, error) {
	var rep store.Report
	return rep, r.get(ctx, "/v1/verify", nil, &rep)
}

type sessionsCmd struct {
	Ls   sessionsLsCmd   `cmd:"" help:"List sessions, newest first."`
	Show sessionsShowCmd `cmd:"" help:"Show one session's timeline."`
}

type sessionsLsCmd struct {
	historyFlags
	Agent string `help:"Only this agent's sessions."`
	State string `help:"Only sessions in this state (active, ended, killed, expired)."`
	Since string `help:"Started at or after: RFC 3339 time or a duration back from now (24h)."`
	Until string `help:"Started before: RFC 3339 time or a duration back from now."`
	Limit int    `help:"At most this many sessions." default:"0"`
}

func (c *sessionsLsCmd) Run(g *cli) error {
	f, err := supervisor.ParseFilter(c.Agent, c.State, c.Since, c.Until, fmt.Sprint(c.Limit))
	if err != nil {
		return err
	}
	h, err := c.open()
	if err != nil {
		return err
	}
	defer h.Close()
	list, err := h.Rows(context.Background(), f)
	if err != nil {
		return err
	}
	if c.JSON {
		if list == nil {
			list = []supervisor.SessionRow{}
		}
		return printJSON(g.stdout(), list)
	}
	tw := tabwriter.NewWriter(g.stdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tAGENT\tSTATE\tSTARTED\tLAST SEEN\tCLIENT\tREMOTE")
	for _, s := range list {
		if s.LastActive.IsZero() { // an older warden's API
			s.LastActive = s.LastSeen
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Agent, s.State,
			s.Started.Local().Format(time.DateTime), s.LastActive.Local().Format(time.DateTime),
			strings.TrimSpace(s.ClientName+" "+s.ClientVersion), s.RemoteAddr)
	}
	return tw.Flush()
}

type sessionsShowCmd struct {
	historyFlags
	ID string `arg:"" help:"Session id, or a prefix of it that no other session's id starts with."`
}

func (c *sessionsShowCmd) Run(g *cli) error {
	h, err := c.open()
	if err != nil {
		return err
	}
	defer h.Close()
	ctx := context.Background()
	var v supervisor.SessionView
	err = byPrefix("session", c.ID, historySessionIDs(ctx, h), isNotFound, func(id string) (err error) {
		v, err = h.Session(ctx, id)
		return err
	})
	if isNotFound(err) {
		return fmt.Errorf("no session %q", c.ID)
	}
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(g.stdout(), v)
	}
	printTimeline(g.stdout(), v)
	return nil
}

// printTimeline writes a session as a person reads it.
func printTimeline(w io.Writer, v supervisor.SessionView) {
	s := v.Session
	fmt.Fprintf(w, "session %s  agent %s  state %s", s.ID, s.Agent, s.State)
	if s.Reason != "" {
		fmt.Fprintf(w, " (%s)", s.Reason)
	}
	fmt.Fprintf(w, "\nclient %s %s  protocol %s  from %s  %s\n\n", s.ClientName, s.ClientVersion, s.ProtocolVersion, s.RemoteAddr, s.UserAgent)
	if n := len(v.Events); s.LastSeq > 0 && (n == 0 || v.Events[0].Seq > 1) {
		first := s.LastSeq + 1
		if n > 0 {
			first = v.Events[0].Seq
		}
		fmt.Fprintf(w, "events 1-%d were pruned by retention; they are in its export files (warden export check FILE)\n\n", first-1)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range v.Events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format("15:04:05.000"), e.Kind, describe(e))
	}
	_ = tw.Flush()
}

func describe(e store.Event) string {
	switch e.Kind {
	case store.KindCall, store.KindResourceRead, store.KindPromptGet, store.KindCompletion:
		s := fmt.Sprintf("%s/%s %s → %s", e.Upstream, e.Tool, clip(jsonText(e.Args), 120), e.Verdict)
		if len(e.Reasons) > 0 {
			s += " (" + strings.Join(e.Reasons, "; ") + ")"
		}
		return s
	case store.KindResult:
		status := "ok"
		if !e.OK {
			status = "error: " + clip(e.Error, 120)
		}
		return fmt.Sprintf("%s %s, %d bytes, %s", e.Tool, status, e.Size, time.Duration(e.LatencyUS)*time.Microsecond)
	default:
		data := jsonText(e.Data)
		if data == "null" {
			data = ""
		}
		return strings.TrimSpace(strings.Join(e.Reasons, "; ") + " " + clip(data, 160))
	}
}

// jsonText is recorded JSON as one line, the same whether it was read from
// the history file or came through the admin API, whose indented,
// HTML-escaped encoding reaches a json.RawMessage as it was sent.
func jsonText(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	// Undo encoding/json's escaping of <, > and &.
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(b.String())
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type verifyCmd struct {
	historyFlags
	Anchor       string `help:"An anchor file of signed checkpoints (anchor.file): also check that the history still holds every head it lists." type:"existingfile"`
	AnchorKeyEnv string `help:"Environment variable holding the anchor's key (anchor.secret_env)." default:"WARDEN_ANCHOR_KEY"`
}

// anchorReport is what verify --anchor found.
type anchorReport struct {
	Checkpoints int       `json:"checkpoints"`
	Heads       int       `json:"heads"`
	Latest      time.Time `json:"latest,omitzero"`
	// Broken lists each checkpointed head the history no longer holds.
	Broken []store.Break `json:"broken"`
}

func (c *verifyCmd) Run(g *cli) error {
	h, err := c.open()
	if err != nil {
		return err
	}
	defer h.Close()
	ctx := context.Background()
	var anc *anchorReport
	if c.Anchor != "" {
		local, ok := h.(localHistory)
		if !ok {
			return errors.New("verify --anchor reads the history file, and warden holds it: stop warden, or verify a copy with --db")
		}
		db, ok := local.Store.(headChecker)
		if !ok {
			return errors.New("verify --anchor: this history cannot check checkpointed heads")
		}
		if anc, err = checkAnchor(ctx, db, c.Anchor, c.AnchorKeyEnv); err != nil {
			return err
		}
	}
	rep, err := h.Verify(ctx)
	if err != nil {
		return err
	}
	broken := len(rep.Broken) > 0 || (anc != nil && len(anc.Broken) > 0)
	if c.JSON {
		out := any(rep)
		if anc != nil {
			out = struct {
				store.Report
				Anchor *anchorReport `json:"anchor"`
			}{rep, anc}
		}
		if err := printJSON(g.stdout(), out); err != nil {
			return err
		}
		if broken {
			return exitError{code: 1}
		}
		return nil
	}
	if !broken {
		pruned, logged := "", ""
		if rep.Pruned > 0 {
			pruned = fmt.Sprintf(" (%d of them pruned by retention, each matching its recorded prune)", rep.Pruned)
		}
		if rep.SessionLog {
			logged = ", every session and approval matching the session log"
		}
		fmt.Fprintf(g.stdout(), "intact: %d sessions%s, %d events, every hash chain verified%s\n", rep.Sessions, pruned, rep.Events, logged)
		if rep.Uncommitted > 0 {
			fmt.Fprintf(g.stdout(), "note: %d sessions hold state that no event commits to (written before events carried its digest); they are not resumed\n", rep.Uncommitted)
		}
		if anc != nil {
			fmt.Fprintf(g.stdout(), "anchored: every head of %d checkpoints (%d heads, the latest at %s) is in the history\n",
				anc.Checkpoints, anc.Heads, anc.Latest.Local().Format(time.DateTime))
		}
		return nil
	}
	var b strings.Builder
	if len(rep.Broken) > 0 {
		fmt.Fprintf(&b, "ALTERED: %d of %d chains are broken\n", len(rep.Broken), rep.Sessions)
		for _, br := range rep.Broken {
			fmt.Fprintf(&b, "  session %s: first broken event %d: %s\n", br.Session, br.Seq, br.Reason)
		}
	}
	if anc != nil && len(anc.Broken) > 0 {
		fmt.Fprintf(&b, "ROLLED BACK: %d checkpointed heads are no longer in the history (of %d in %d checkpoints)\n", len(anc.Broken), anc.Heads, anc.Checkpoints)
		for _, br := range anc.Broken {
			fmt.Fprintf(&b, "  session %s: %s\n", br.Session, br.Reason)
		}
	}
	return exitError{code: 1, msg: strings.TrimRight(b.String(), "\n")}
}

// headChecker is a history that checks checkpointed heads: the bbolt
// file, or PostgreSQL.
type headChecker interface {
	CheckHeads(ctx context.Context, heads []store.Head) ([]store.Break, error)
}

// checkAnchor reads the anchor file, checking its signatures with the key
// in keyEnv, and checks every head of every checkpoint against db.
func checkAnchor(ctx context.Context, db headChecker, path, keyEnv string) (*anchorReport, error) {
	key := os.Getenv(keyEnv)
	if key == "" {
		return nil, fmt.Errorf("verify --anchor: set %s to the anchor's key (its anchor.secret_env), or name another variable with --anchor-key-env", keyEnv)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify --anchor: %w", err)
	}
	defer f.Close()
	cps, _, err := store.ReadCheckpoints(f, []byte(key))
	if err != nil {
		return nil, exitError{code: 1, msg: fmt.Sprintf("ANCHOR UNTRUSTED: %s: %v", path, err)}
	}
	if len(cps) == 0 {
		return nil, fmt.Errorf("verify --anchor: %s holds no checkpoint", path)
	}
	rep := &anchorReport{Checkpoints: len(cps), Latest: cps[len(cps)-1].Time, Broken: []store.Break{}}
	for _, cp := range cps {
		rep.Heads += len(cp.Heads)
		brk, err := db.CheckHeads(ctx, cp.Heads)
		if err != nil {
			return nil, err
		}
		rep.Broken = append(rep.Broken, brk...)
	}
	return rep, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
