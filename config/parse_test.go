package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// hashA is HashToken("token-a"), a valid agent token hash for fixtures.
var hashA = HashToken("token-a")

// fix replaces H in a fixture with a valid token hash, so fixtures stay
// short and their columns easy to count.
func fix(s string) []byte { return []byte(strings.ReplaceAll(s, "$H", hashA)) }

// noEnv is an empty environment.
func noEnv(string) string { return "" }

// envOf serves a fixed environment.
func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// want is one expected problem: its position and a part of its message.
type want struct {
	line, col int
	msg       string
}

// mustFail parses src and checks that it fails with exactly the wanted
// problems, in order.
func mustFail(t *testing.T, src []byte, getenv func(string) string, wants ...want) {
	t.Helper()
	cfg, err := Parse("w.yaml", src, getenv)
	if err == nil {
		t.Fatalf("Parse succeeded (%v); want %d problems", cfg, len(wants))
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T %v is not Errors", err, err)
	}
	if len(errs) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(wants), err)
	}
	for i, w := range wants {
		e := errs[i]
		if e.File != "w.yaml" || e.Line != w.line || e.Col != w.col || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("problem %d = %v; want w.yaml:%d:%d: ...%s...", i, e, w.line, w.col, w.msg)
		}
	}
}

// minimal is the smallest valid config; cases below break one thing each.
const minimal = `upstreams:
  - name: up
    stdio: {command: x}
agents:
  - name: bot
    token_sha256: $H
`

func TestParseMinimalDefaults(t *testing.T) {
	cfg, err := Parse("/etc/warden/w.yaml", fix(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Listen, DefaultListen},
		{"max_body_bytes", cfg.MaxBodyBytes, int64(DefaultMaxBodyBytes)},
		{"session_idle_ttl", cfg.SessionIdleTTL, DefaultSessionIdleTTL},
		{"call_timeout", cfg.CallTimeout, DefaultCallTimeout},
		{"data_dir", cfg.DataDir, "/etc/warden/warden-data"},
		{"log", cfg.Log, Log{Level: "info", Format: "text"}},
		{"admin", cfg.Admin == nil, true},
		{"file", cfg.File, "/etc/warden/w.yaml"},
		{"upstream timeout", cfg.Upstreams[0].CallTimeout, DefaultCallTimeout},
		{"transport", cfg.Upstreams[0].Transport, TransportStdio},
		{"validate_args", cfg.Upstreams[0].ValidateArgs, ArgsSchema},
		{"agent upstreams", strings.Join(cfg.Agents[0].Upstreams, ","), "up"},
		{"agent tools", strings.Join(cfg.Agents[0].Tools, ","), "*"},
		{"agent hash", cfg.Agents[0].TokenSHA256, hashA},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// upstreamWith adds lines (at the upstream's indentation) to minimal's
// upstream, which then starts them on line 4, column 5.
func upstreamWith(lines string) string {
	return strings.Replace(minimal, "{command: x}\n", "{command: x}\n    "+lines+"\n", 1)
}

// TestParseUpstreamSessions checks the session settings' defaults per
// transport and that set values win over them.
func TestParseUpstreamSessions(t *testing.T) {
	const http, sse = "http: {url: http://h/mcp}", "sse: {url: http://h/sse}"
	cases := []struct {
		name      string
		transport string // replaces minimal's stdio transport when set
		lines     string // added to the upstream when set
		want      Upstream
	}{
		{"stdio defaults", "", "", Upstream{Sessions: SessionsPerAgent, MaxSessions: 16, SessionIdleTimeout: 30 * time.Minute, SpareSessions: 1}},
		{"http defaults", http, "", Upstream{Sessions: SessionsPerSession, MaxSessions: 256, SessionIdleTimeout: 30 * time.Minute}},
		{"sse defaults", sse, "", Upstream{Sessions: SessionsPerSession, MaxSessions: 256, SessionIdleTimeout: 30 * time.Minute}},
		{"null keeps the defaults", "", "sessions:\n    max_sessions:\n    session_idle_timeout: ~\n    spare_sessions: null",
			Upstream{Sessions: SessionsPerAgent, MaxSessions: 16, SessionIdleTimeout: 30 * time.Minute, SpareSessions: 1}},
		{"stdio per_session set", "", "sessions: per_session\n    max_sessions: 4\n    session_idle_timeout: 1s\n    spare_sessions: 3",
			Upstream{Sessions: SessionsPerSession, MaxSessions: 4, SessionIdleTimeout: time.Second, SpareSessions: 3}},
		{"stdio without spares", "", "spare_sessions: 0", Upstream{Sessions: SessionsPerAgent, MaxSessions: 16, SessionIdleTimeout: 30 * time.Minute}},
		{"stdio single process leaves no room for the default spare", "", "max_sessions: 1",
			Upstream{Sessions: SessionsPerAgent, MaxSessions: 1, SessionIdleTimeout: 30 * time.Minute}},
		{"http per_agent set", http, "sessions: per_agent\n    spare_sessions: 2\n    session_idle_timeout: 2h",
			Upstream{Sessions: SessionsPerAgent, MaxSessions: 256, SessionIdleTimeout: 2 * time.Hour, SpareSessions: 2}},
		{"shared has no pool", "", "sessions: shared", Upstream{Sessions: SessionsShared}},
		{"shared http", http, "sessions: shared", Upstream{Sessions: SessionsShared}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := minimal
			if c.lines != "" {
				src = upstreamWith(c.lines)
			}
			if c.transport != "" {
				src = strings.Replace(src, "stdio: {command: x}", c.transport, 1)
			}
			cfg, err := Parse("w.yaml", fix(src), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			u := cfg.Upstreams[0]
			got := Upstream{Sessions: u.Sessions, MaxSessions: u.MaxSessions, SessionIdleTimeout: u.SessionIdleTimeout, SpareSessions: u.SpareSessions}
			if got != c.want {
				t.Fatalf("sessions=%s max_sessions=%d session_idle_timeout=%s spare_sessions=%d; want %s %d %s %d",
					got.Sessions, got.MaxSessions, got.SessionIdleTimeout, got.SpareSessions,
					c.want.Sessions, c.want.MaxSessions, c.want.SessionIdleTimeout, c.want.SpareSessions)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"empty file", ``, []want{{1, 1, "file is empty"}}},
		{"only comments", "# nothing\n", []want{{1, 1, "file is empty"}}},
		{"not yaml", "upstreams: [\n", []want{{1, 12, "not valid YAML"}}},
		{"unclosed quote", "listen: '127.0.0.1\n", []want{{1, 9, "not valid YAML"}}},
		{"duplicate key", minimal + "listen: a:1\nlisten: b:2\n", []want{{8, 1, `the config has "listen" twice (first at 7:1)`}}},
		{"duplicate key among other problems", minimal + "log: {level: x, level: y}\nlisten: nope\n",
			[]want{{7, 14, `log.level "x"`}, {7, 17, `log has "level" twice (first at 7:7)`}, {8, 9, "not host:port"}}},
		{"top level list", "- a\n- b\n", []want{{1, 1, "the config must be a mapping, got a list"}}},
		{"top level string", "hello\n", []want{{1, 1, "the config must be a mapping, got a string"}}},
		{"two documents", minimal + "---\nlisten: x\n", []want{{8, 1, "one YAML document"}}},
		{"no upstreams no agents", "listen: 127.0.0.1:1\n", []want{{1, 1, "no upstreams"}, {1, 1, "no agents"}}},
		{"typo with suggestion", minimal + "lisen: 127.0.0.1:1\n", []want{{7, 1, `unknown field "lisen" in the config; did you mean "listen"?`}}},
		{"unknown nested field", strings.Replace(minimal, "{command: x}", "{command: x, argz: [a]}", 1),
			[]want{{3, 25, `unknown field "argz" in upstream "up".stdio; did you mean "args"?`}}},
		{"listen wrong type", minimal + "listen: [a]\n", []want{{7, 9, "listen must be a string, got a list"}}},
		{"listen not host:port", minimal + "listen: localhost\n", []want{{7, 9, `listen "localhost" is not host:port`}}},
		{"listen bad port", minimal + "listen: 127.0.0.1:99999\n", []want{{7, 9, `has port "99999"`}}},
		{"bad duration", minimal + "session_idle_ttl: 30 minutes\n", []want{{7, 19, `session_idle_ttl "30 minutes" is not a duration`}}},
		{"duration without unit", minimal + "call_timeout: 30\n", []want{{7, 15, "needs a unit, e.g. 30s"}}},
		{"negative duration", minimal + "call_timeout: -5s\n", []want{{7, 15, "must be positive"}}},
		{"max body zero", minimal + "max_body_bytes: 0\n", []want{{7, 17, "max_body_bytes must be positive, got 0"}}},
		{"max body negative", minimal + "max_body_bytes: -1\n", []want{{7, 17, "must be positive, got -1"}}},
		{"max body huge", minimal + "max_body_bytes: 99999999999999999999\n", []want{{7, 17, "out of range"}}},
		{"duplicate header", strings.Replace(minimal, "stdio: {command: x}", "http: {url: http://h/mcp, headers: {A: b, A: c}}", 1), []want{{3, 47, `headers has "A" twice`}}},
		{"max body quoted", minimal + "max_body_bytes: \"1048576\"\n", []want{{7, 17, "max_body_bytes must be an integer, got a string"}}},
		{"max body string", minimal + "max_body_bytes: 1MiB\n", []want{{7, 17, "max_body_bytes must be an integer, got a string"}}},
		{"log level", minimal + "log: {level: loud, format: xml}\n", []want{{7, 14, `log.level "loud"`}, {7, 28, `log.format "xml"`}}},
		{"origin not origin", minimal + "allowed_origins: [example.com]\n", []want{{7, 19, `"example.com" is not an origin`}}},
		{"admin no token", minimal + "admin: {listen: 127.0.0.1:7801}\n", []want{{7, 8, "admin needs a token"}}},
		{"admin both tokens", minimal + "admin:\n  token_sha256: $H\n  token_env: X\n", []want{{9, 3, "admin sets both token_sha256 and token_env"}}},
		{"admin short hash", minimal + "admin: {token_sha256: abc}\n", []want{{7, 23, "must be 64 hex digits"}}},
		{"admin non-hex hash", minimal + "admin: {token_sha256: " + strings.Repeat("g", 64) + "}\n", []want{{7, 23, "must be 64 hex digits"}}},
		{"admin token_env unset", minimal + "admin: {token_env: WARDEN_ADMIN}\n", []want{{7, 20, "environment variable WARDEN_ADMIN is not set or empty"}}},
		{"empty token hash", minimal + "admin: {token_sha256: " + HashToken("") + "}\n", []want{{7, 23, "hash of the empty token"}}},
		{"agent neither token", strings.Replace(minimal, "    token_sha256: $H\n", "    tools: [\"*\"]\n", 1),
			[]want{{5, 5, `agent "bot" needs a token`}}},
		{"agent both tokens", minimal + "    token_env: T\n", []want{{7, 5, `agent "bot" sets both`}}},
		{"duplicate upstream", strings.Replace(minimal, "agents:", "  - name: up\n    stdio: {command: y}\nagents:", 1),
			[]want{{4, 11, `duplicate upstream name "up" (first at 2:11)`}}},
		{"duplicate agent", minimal + "  - name: bot\n    token_sha256: " + HashToken("b") + "\n", []want{{7, 11, `duplicate agent name "bot" (first at 5:11)`}}},
		{"shared token", minimal + "  - name: bot2\n    token_sha256: $H\n", []want{{8, 19, `agent "bot2" has the same token as agent "bot"`}}},
		{"bad name", strings.Replace(minimal, "name: up", "name: Up!", 1), []want{{2, 11, `upstream name "Up!" must match`}}},
		{"unknown upstream ref", minimal + "    upstreams: [up, nope]\n", []want{{7, 21, `names unknown upstream "nope"`}}},
		{"no transport", strings.Replace(minimal, "    stdio: {command: x}\n", "", 1), []want{{2, 5, `upstream "up" needs a transport`}}},
		{"two transports", strings.Replace(minimal, "    stdio: {command: x}\n", "    stdio: {command: x}\n    http: {url: http://h/mcp}\n", 1),
			[]want{{4, 5, `upstream "up" has both stdio and http`}}},
		{"empty command", strings.Replace(minimal, "{command: x}", "{command: \"\"}", 1), []want{{3, 22, "command must not be empty"}}},
		{"missing command", strings.Replace(minimal, "{command: x}", "{args: [a]}", 1), []want{{3, 12, "needs a command"}}},
		{"url not http", strings.Replace(minimal, "stdio: {command: x}", "http: {url: ftp://h/mcp}", 1), []want{{3, 17, `"ftp://h/mcp" is not an http:// or https:// URL`}}},
		{"url no host", strings.Replace(minimal, "stdio: {command: x}", "sse: {url: /sse}", 1), []want{{3, 16, "is not an http:// or https:// URL"}}},
		{"unquoted star in list", minimal + "    tools: [*]\n", []want{{7, 14, "quote glob patterns"}}},
		{"unquoted star", minimal + "    tools: *\n", []want{{7, 12, "quote glob patterns"}}},
		{"env in url", strings.Replace(minimal, "stdio: {command: x}", "http: {url: 'http://${HOST}/mcp'}", 1), []want{{3, 17, "${VAR} is not expanded in urls"}}},
		{"bad glob", minimal + "    tools: [\"get[\"]\n", []want{{7, 13, `"get[" is not a valid glob pattern`}}},
		{"empty tools", minimal + "    tools: []\n", []want{{7, 12, "tools is empty"}}},
		{"args not strings", strings.Replace(minimal, "{command: x}", "{command: x, args: [{a: 1}]}", 1), []want{{3, 32, "args[0] must be a string, got a mapping"}}},
		{"upstream not mapping", strings.Replace(minimal, "  - name: up\n    stdio: {command: x}\n", "  - up\n", 1),
			[]want{{2, 5, "upstreams[0] must be a mapping, got a string"}}},
		{"merge key", minimal + "log:\n  <<: {level: info}\n", []want{{8, 3, "merge keys (<<) are not supported"}}},
		{"unknown alias", minimal + "listen: *nowhere\n", []want{{7, 9, "alias *nowhere has no anchor &nowhere"}}},
		{"bad tool prefix", strings.Replace(minimal, "{command: x}", "{command: x}\n    tool_prefix: \"a b\"", 1), []want{{4, 18, "tool_prefix"}}},
		{"bad validate_args", strings.Replace(minimal, "{command: x}", "{command: x}\n    validate_args: loose", 1), []want{{4, 20, `upstreams[0].validate_args "loose" is not one of schema, keys_only`}}},
		{"bad sessions", upstreamWith("sessions: pooled"), []want{{4, 15, `upstreams[0].sessions "pooled" is not one of per_session, per_agent, shared`}}},
		{"sessions not a string", upstreamWith("sessions: [per_agent]"), []want{{4, 15, "upstreams[0].sessions must be a string, got a list"}}},
		{"max_sessions zero", upstreamWith("max_sessions: 0"), []want{{4, 19, "upstreams[0].max_sessions must be between 1 and 1000000, got 0"}}},
		{"max_sessions not integer", upstreamWith("max_sessions: many"), []want{{4, 19, "upstreams[0].max_sessions must be an integer, got a string"}}},
		{"session_idle_timeout under 1s", upstreamWith("session_idle_timeout: 500ms"), []want{{4, 27, "upstreams[0].session_idle_timeout must be at least 1s, got 500ms"}}},
		{"session_idle_timeout without unit", upstreamWith("session_idle_timeout: 30"), []want{{4, 27, "upstreams[0].session_idle_timeout 30 needs a unit, e.g. 30s"}}},
		{"session_idle_timeout negative", upstreamWith("session_idle_timeout: -1m"), []want{{4, 27, "upstreams[0].session_idle_timeout must be positive"}}},
		{"spare_sessions negative", upstreamWith("spare_sessions: -1"), []want{{4, 21, "upstreams[0].spare_sessions must be 0 or more, got -1"}}},
		{"spare_sessions not integer", upstreamWith("spare_sessions: 1.5"), []want{{4, 21, "upstreams[0].spare_sessions must be an integer"}}},
		{"spare_sessions not below max_sessions", upstreamWith("max_sessions: 2\n    spare_sessions: 2"),
			[]want{{5, 21, `upstream "up".spare_sessions 2 must be less than max_sessions (2)`}}},
		{"spare_sessions not below the default max_sessions", upstreamWith("spare_sessions: 16"),
			[]want{{4, 21, `upstream "up".spare_sessions 16 must be less than the default max_sessions for stdio (16)`}}},
		{"spare_sessions not below the http default", strings.Replace(upstreamWith("spare_sessions: 256"), "stdio: {command: x}", "http: {url: http://h/mcp}", 1),
			[]want{{4, 21, `the default max_sessions for http (256)`}}},
		{"invalid max_sessions is not compared with spares", upstreamWith("max_sessions: 0\n    spare_sessions: 20"), []want{{4, 19, "max_sessions must be between 1"}}},
		{"shared with pool settings", upstreamWith("sessions: shared\n    max_sessions: 4\n    session_idle_timeout: 5m\n    spare_sessions: 0"),
			[]want{
				{5, 5, `upstream "up".max_sessions applies only to per_session and per_agent`},
				{6, 5, `upstream "up".session_idle_timeout applies only to per_session and per_agent`},
				{7, 5, `upstream "up".spare_sessions applies only to per_session and per_agent`},
			}},
		{"shared set after max_sessions", upstreamWith("max_sessions: 4\n    sessions: shared"), []want{{4, 5, "max_sessions applies only to per_session and per_agent"}}},
		{"many problems at once", "listen: nope\nmax_body_bytes: 0\nupstreams: []\nagents: []\n",
			[]want{{1, 9, "not host:port"}, {2, 17, "must be positive"}, {3, 12, "upstreams is empty"}, {4, 9, "agents is empty"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, fix(c.src), noEnv, c.wants...)
		})
	}
}
