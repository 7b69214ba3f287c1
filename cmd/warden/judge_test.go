package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/eval"
)

// judgeEndpoint is an OpenAI-compatible API on loopback that answers every
// chat completion "consistent" and records the model and key it was asked
// with.
type judgeEndpoint struct {
	url         string
	mu          sync.Mutex
	model, auth string
}

func startJudgeEndpoint(t *testing.T) *judgeEndpoint {
	t.Helper()
	ep := &judgeEndpoint{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		var body struct {
			Model string `json:"model"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ep.mu.Lock()
		ep.model, ep.auth = body.Model, r.Header.Get("Authorization")
		ep.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "model": body.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": `{"consistent":true,"reason":"asked for"}`}}},
		})
	}))
	t.Cleanup(srv.Close)
	ep.url = srv.URL + "/v1"
	return ep
}

// ask has j judge a call and returns the model and Authorization header
// the endpoint saw.
func (ep *judgeEndpoint) ask(t *testing.T, j *eval.Judge) (model, auth string) {
	t.Helper()
	got := j.Ask(context.Background(), eval.JudgeCall{Intent: "pay my rent", Tool: "send_money", Args: map[string]any{"amount": 1200}})
	if got.Answer == nil || !got.Answer.Consistent {
		t.Fatalf("judgement = %+v, want the endpoint's consistent answer", got)
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.model, ep.auth
}

func TestAgentsGetTheirJudge(t *testing.T) {
	ep := startJudgeEndpoint(t)
	src := `upstreams:
  - name: up
    stdio: {command: x}
agents:
  - name: payer
    token_sha256: ` + config.HashToken("a") + `
    judge: {endpoint: "` + ep.url + `", model: judge-m, key_env: JUDGE_TEST_KEY, may_clear: false}
  - name: plain
    token_sha256: ` + config.HashToken("b") + `
`
	// The key's variable need not be set to load (or validate) the config.
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "w.yaml"), []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = agentsOf(cfg, testEnv())
	if err == nil || !strings.Contains(err.Error(), `agent "payer"`) || !strings.Contains(err.Error(), "JUDGE_TEST_KEY") {
		t.Fatalf("agentsOf without the key = %v, want an error naming the agent and the variable", err)
	}
	agents, err := agentsOf(cfg, testEnv("JUDGE_TEST_KEY", "sk-test"))
	if err != nil {
		t.Fatal(err)
	}
	if agents[0].Judge == nil || agents[0].JudgeBounds != (eval.Bounds{Clear: false, Raise: true}) {
		t.Fatalf("payer's judge = %v with bounds %+v, want a judge that may raise only", agents[0].Judge, agents[0].JudgeBounds)
	}
	if agents[1].Judge != nil || agents[1].JudgeBounds != (eval.Bounds{}) {
		t.Fatalf("plain has a judge (%v, %+v); its config names none", agents[1].Judge, agents[1].JudgeBounds)
	}
	if model, auth := ep.ask(t, agents[0].Judge); model != "judge-m" || auth != "Bearer sk-test" {
		t.Fatalf("the judge asked model %q with %q, want judge-m with the key from JUDGE_TEST_KEY", model, auth)
	}
}

// TestServeNeedsTheJudgesKey: warden refuses to start, naming the agent and
// the variable, before it opens its history.
func TestServeNeedsTheJudgesKey(t *testing.T) {
	dir := t.TempDir()
	src := "data_dir: " + dir + "\nupstreams:\n  - name: up\n    stdio: {command: x}\nagents:\n  - name: payer\n    token_sha256: " + config.HashToken("a") +
		"\n    judge: {endpoint: \"https://api.example/v1\", model: m, key_env: WARDEN_TEST_UNSET_JUDGE_KEY}\n"
	cfg, err := config.Parse(filepath.Join(dir, "w.yaml"), []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = assemble(cfg, log.New(io.Discard))
	if err == nil || !strings.Contains(err.Error(), `agent "payer"`) || !strings.Contains(err.Error(), "WARDEN_TEST_UNSET_JUDGE_KEY") {
		t.Fatalf("assemble without the judge's key = %v, want an error naming the agent and the variable", err)
	}
	if _, err := os.Stat(dbPath(cfg)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the history was opened before the judge was built (%v)", err)
	}
}

// TestReplayJudgeFlags parses the flags as the command line does.
func TestReplayJudgeFlags(t *testing.T) {
	wf := "../../examples/agentdojo/banking.yaml"
	var c cli
	k, err := kong.New(&c, kong.Name("warden"), kong.Writers(io.Discard, io.Discard),
		kong.Exit(func(code int) { t.Fatalf("kong exited %d", code) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Parse([]string{"replay", "--traces", wf, "--workflow", wf, "--judge", "http://127.0.0.1:9/v1",
		"--judge-model", "m", "--judge-key-env", "K", "--judge-per-minute", "600"}); err != nil {
		t.Fatal(err)
	}
	if r := c.Replay; r.Judge != "http://127.0.0.1:9/v1" || r.JudgeModel != "m" || r.JudgeKeyEnv != "K" || r.JudgePerMinute != 600 {
		t.Fatalf("parsed %+v", r)
	}
}

func TestReplayJudgeErrors(t *testing.T) {
	wf := "../../examples/agentdojo/banking.yaml"
	cases := []struct {
		name string
		cmd  replayCmd
		want string
	}{
		{"model without judge", replayCmd{JudgeModel: "m"}, "need --judge URL"},
		{"http off loopback", replayCmd{Judge: "http://judge.example/v1", JudgeModel: "m"}, "--judge: \"http://judge.example/v1\" must be https unless its host is loopback"},
		{"no model", replayCmd{Judge: "http://127.0.0.1:9/v1"}, "--judge needs --judge-model"},
		{"key unset", replayCmd{Judge: "http://127.0.0.1:9/v1", JudgeModel: "m", JudgeKeyEnv: "WARDEN_TEST_UNSET_JUDGE_KEY"}, "WARDEN_TEST_UNSET_JUDGE_KEY"},
		{"negative budget", replayCmd{Judge: "http://127.0.0.1:9/v1", JudgeModel: "m", JudgePerMinute: -1}, "--judge-per-minute must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cmd.Traces, tc.cmd.Workflow = wf, wf // decoded before the judge, which fails first
			if _, err := printed(tc.cmd.Run); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("replay = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestReplayJudgeTakesTheAgentsSection: with --config, the agent's model
// and bounds apply unless the flags say otherwise, and the configured key
// is never sent to the endpoint --judge names.
func TestReplayJudgeTakesTheAgentsSection(t *testing.T) {
	ep := startJudgeEndpoint(t)
	t.Setenv("WARDEN_TEST_CFG_JUDGE_KEY", "sk-configured")
	t.Setenv("WARDEN_TEST_FLAG_JUDGE_KEY", "sk-flag")
	configured := &config.Judge{Endpoint: "https://api.example/v1", Model: "cfg-model", KeyEnv: "WARDEN_TEST_CFG_JUDGE_KEY", MayRaise: true}
	cases := []struct {
		name        string
		cmd         replayCmd
		configured  *config.Judge
		model, auth string
		bounds      eval.Bounds
	}{
		{"the agent's section", replayCmd{Judge: ep.url}, configured, "cfg-model", "", eval.Bounds{Raise: true}},
		{"flags win", replayCmd{Judge: ep.url, JudgeModel: "flag-model", JudgeKeyEnv: "WARDEN_TEST_FLAG_JUDGE_KEY"}, configured, "flag-model", "Bearer sk-flag", eval.Bounds{Raise: true}},
		{"no section", replayCmd{Judge: ep.url, JudgeModel: "flag-model"}, nil, "flag-model", "", eval.DefaultBounds()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j, bounds, err := tc.cmd.judge(tc.configured)
			if err != nil {
				t.Fatal(err)
			}
			if bounds != tc.bounds {
				t.Errorf("bounds = %+v, want %+v", bounds, tc.bounds)
			}
			if model, auth := ep.ask(t, j); model != tc.model || auth != tc.auth {
				t.Errorf("asked model %q with %q, want %q with %q", model, auth, tc.model, tc.auth)
			}
		})
	}
}
