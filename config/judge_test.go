package config

import (
	"testing"
	"time"
)

// withJudge is minimal with a judge section on its agent; the section's
// lines start at line 7, its keys at column 7.
func withJudge(lines string) string { return minimal + "    judge:\n" + lines }

func TestParseJudge(t *testing.T) {
	defaults := Judge{Endpoint: "http://127.0.0.1:8000/v1", Model: "m", Timeout: 5 * time.Second, PerMinute: 60,
		CacheSize: 1024, CacheTTL: 10 * time.Minute, MayClear: true, MayRaise: true}
	cases := []struct {
		name string
		src  string
		want *Judge
	}{
		{"none", minimal, nil},
		{"defaults", withJudge("      endpoint: http://127.0.0.1:8000/v1\n      model: m\n"), &defaults},
		{"null keeps the default", withJudge("      endpoint: http://127.0.0.1:8000/v1\n      model: m\n      timeout:\n      may_clear: null\n"), &defaults},
		{"every field", withJudge(`      endpoint: https://api.openai.com/v1
      model: gpt-4o-mini
      key_env: JUDGE_API_KEY
      timeout: 2s
      per_minute: 10
      cache_size: 16
      cache_ttl: 1m
      may_clear: false
      may_raise: false
`), &Judge{Endpoint: "https://api.openai.com/v1", Model: "gpt-4o-mini", KeyEnv: "JUDGE_API_KEY", Timeout: 2 * time.Second,
			PerMinute: 10, CacheSize: 16, CacheTTL: time.Minute}},
		{"flow style", minimal + "    judge: {endpoint: \"http://localhost:9/v1\", model: m, may_raise: false}\n",
			&Judge{Endpoint: "http://localhost:9/v1", Model: "m", Timeout: 5 * time.Second, PerMinute: 60,
				CacheSize: 1024, CacheTTL: 10 * time.Minute, MayClear: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The key's variable is unset: it is read when warden starts.
			cfg, err := Parse("w.yaml", fix(c.src), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Agents[0].Judge
			switch {
			case c.want == nil && got != nil:
				t.Errorf("judge = %+v, want none", *got)
			case c.want != nil && (got == nil || *got != *c.want):
				t.Errorf("judge = %+v, want %+v", got, *c.want)
			}
		})
	}
}

func TestParseJudgeErrors(t *testing.T) {
	const model = "      model: m\n"
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"empty", minimal + "    judge:\n", []want{{7, 5, "agents[0].judge is empty; omit it for no judge"}}},
		{"not a mapping", minimal + "    judge: gpt\n", []want{{7, 12, "agents[0].judge must be a mapping, got a string"}}},
		{"no model", withJudge("      endpoint: https://x.example/v1\n"), []want{{8, 7, "agents[0].judge needs endpoint (an OpenAI-compatible API's base URL) and model"}}},
		{"no endpoint", withJudge(model), []want{{8, 7, "agents[0].judge needs endpoint"}}},
		{"null endpoint", withJudge("      endpoint:\n" + model), []want{{8, 7, "agents[0].judge.endpoint is empty"}}},
		{"empty model", withJudge("      endpoint: https://x.example/v1\n      model: \"\"\n"), []want{{9, 14, "agents[0].judge.model must not be empty"}}},
		{"not http", withJudge("      endpoint: ftp://x.example/v1\n" + model), []want{{8, 17, `agents[0].judge.endpoint: "ftp://x.example/v1" is not an http:// or https:// URL`}}},
		{"no host", withJudge("      endpoint: /v1\n" + model), []want{{8, 17, "is not an http:// or https:// URL"}}},
		{"http off loopback", withJudge("      endpoint: http://judge.example/v1\n" + model),
			[]want{{8, 17, "must be https unless its host is loopback (localhost, 127.0.0.0/8, ::1): the API key and the calls' arguments would travel in clear"}}},
		{"http on a lookalike", withJudge("      endpoint: http://127.0.0.1.example/v1\n" + model), []want{{8, 17, "must be https"}}},
		{"credentials", withJudge("      endpoint: https://user:sk-secret@x.example/v1\n" + model), []want{{8, 17, `"https://x.example/v1" holds credentials; put the API key in key_env`}}},
		{"query", withJudge("      endpoint: https://x.example/v1?key=sk\n" + model), []want{{8, 17, "no query or fragment"}}},
		{"variable", withJudge("      endpoint: https://${HOST}/v1\n" + model), []want{{8, 17, "${VAR} is not expanded in a judge endpoint"}}},
		{"bad key_env", withJudge("      endpoint: https://x.example/v1\n" + model + "      key_env: judge-key\n"), []want{{10, 16, `agents[0].judge.key_env "judge-key" is not an environment variable name`}}},
		{"timeout without unit", withJudge("      endpoint: https://x.example/v1\n" + model + "      timeout: 5\n"), []want{{10, 16, "agents[0].judge.timeout 5 needs a unit"}}},
		{"negative ttl", withJudge("      endpoint: https://x.example/v1\n" + model + "      cache_ttl: -1m\n"), []want{{10, 18, "agents[0].judge.cache_ttl must be positive"}}},
		{"zero budget", withJudge("      endpoint: https://x.example/v1\n" + model + "      per_minute: 0\n"), []want{{10, 19, "agents[0].judge.per_minute must be between 1 and"}}},
		{"cache not a number", withJudge("      endpoint: https://x.example/v1\n" + model + "      cache_size: many\n"), []want{{10, 19, "agents[0].judge.cache_size must be an integer"}}},
		{"bound not a boolean", withJudge("      endpoint: https://x.example/v1\n" + model + "      may_raise: 1\n"), []want{{10, 18, "agents[0].judge.may_raise must be true or false, got an integer"}}},
		{"unknown field", withJudge("      endpoint: https://x.example/v1\n      modle: m\n"),
			[]want{{8, 7, "needs endpoint"}, {9, 7, `unknown field "modle" in agents[0].judge; did you mean "model"?`}}},
		{"every error at once", withJudge("      endpoint: http://judge.example/v1\n      model: m\n      timeout: soon\n      may_clear: maybe\n"),
			[]want{{8, 17, "must be https"}, {10, 16, `agents[0].judge.timeout "soon" is not a duration`}, {11, 18, "agents[0].judge.may_clear must be true or false"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, fix(c.src), noEnv, c.wants...)
		})
	}
}

func TestCheckJudgeEndpoint(t *testing.T) {
	cases := []struct {
		url string
		ok  bool
	}{
		{"https://api.openai.com/v1", true},
		{"https://api.openai.com/v1/", true},
		{"http://127.0.0.1:8000/v1", true},
		{"http://127.9.9.9/v1", true},
		{"http://localhost:8000/v1", true},
		{"http://LOCALHOST/v1", true},
		{"http://[::1]:8000/v1", true},
		{"http://10.0.0.1/v1", false},
		{"http://[::ffff:10.0.0.1]/v1", false},
		{"http://0.0.0.0/v1", false},
		{"http://localhost.example/v1", false},
		{"https://x.example/v1#frag", false},
		{"", false},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			if err := CheckJudgeEndpoint(c.url); (err == nil) != c.ok {
				t.Errorf("CheckJudgeEndpoint(%q) = %v, want ok %v", c.url, err, c.ok)
			}
		})
	}
}
