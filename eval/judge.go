package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"golang.org/x/time/rate"
)

// JudgeConfig configures a judge: an OpenAI-compatible chat completions
// endpoint and the limits on its use.
type JudgeConfig struct {
	Endpoint  string        // base URL of the API, e.g. https://api.openai.com/v1
	Model     string        // the model to ask
	KeyEnv    string        // the environment variable holding the API key; the caller reads it and passes the key to NewJudge
	Timeout   time.Duration // per judgement; default 5s
	PerMinute int           // budget: model calls per minute; default 60
	CacheSize int           // answers kept by prompt digest; default 1024
	CacheTTL  time.Duration // how long a cached answer is reused; default 10m
}

// Judgement is one judge's answer to one call, as recorded on the chain. A
// judgement without an Answer (a timeout, an error, an exhausted budget, an
// unparseable reply) moves no verdict.
type Judgement struct {
	Model   string        `json:"model"`
	Digest  string        `json:"prompt_digest"` // SHA-256 hex of the exact prompt sent
	Answer  *JudgeAnswer  `json:"answer,omitempty"`
	Latency time.Duration `json:"latency_ns"`
	Err     string        `json:"error,omitempty"` // why there is no answer
	Cached  bool          `json:"cached,omitempty"`
}

// JudgeAnswer is the model's reply, validated against the judge's schema.
type JudgeAnswer struct {
	Consistent bool   `json:"consistent"` // the call is consistent with the declared intent
	Reason     string `json:"reason"`     // why, in at most 200 characters
}

// Judge asks a model whether a proposed call is consistent with the declared
// intent. It is safe for concurrent use.
type Judge struct {
	model    string
	timeout  time.Duration
	client   *openai.Client
	budget   *rate.Limiter
	perMin   int
	cache    *judgeCache
	recorded map[string]Judgement // by prompt digest; non-nil for a recorded judge
	now      func() time.Time     // the cache's clock
}

// maxReply bounds the bytes read from the endpoint.
const maxReply = 1 << 20

// NewJudge returns a judge that asks cfg's endpoint, authenticating with key,
// the value of cfg.KeyEnv. A key may be empty only when no KeyEnv is named
// (local endpoints that need none).
func NewJudge(cfg JudgeConfig, key string) (*Judge, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("judge endpoint %q: want an http or https URL", cfg.Endpoint)
	}
	if cfg.Model == "" {
		return nil, errors.New("judge: no model configured")
	}
	if cfg.KeyEnv != "" && key == "" {
		return nil, fmt.Errorf("judge: the API key variable $%s is empty or unset", cfg.KeyEnv)
	}
	if cfg.Timeout < 0 || cfg.PerMinute < 0 || cfg.CacheSize < 0 || cfg.CacheTTL < 0 {
		return nil, errors.New("judge: timeout, budget and cache must not be negative")
	}
	cfg.Timeout = orDefault(cfg.Timeout, 5*time.Second)
	cfg.PerMinute = orDefault(cfg.PerMinute, 60)
	cfg.CacheSize = orDefault(cfg.CacheSize, 1024)
	cfg.CacheTTL = orDefault(cfg.CacheTTL, 10*time.Minute)

	oc := openai.DefaultConfig(key)
	oc.BaseURL = cfg.Endpoint
	// A redirect is not followed: it would send the call (and, to the same
	// host, the key) wherever the endpoint points; it fails the judgement.
	oc.HTTPClient = limitedDoer{&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return &Judge{
		model:   cfg.Model,
		timeout: cfg.Timeout,
		client:  openai.NewClientWithConfig(oc),
		budget:  rate.NewLimiter(rate.Limit(float64(cfg.PerMinute)/60), cfg.PerMinute),
		perMin:  cfg.PerMinute,
		cache:   newJudgeCache(cfg.CacheSize, cfg.CacheTTL),
		now:     time.Now,
	}, nil
}

// NewRecordedJudge returns a judge that calls no model: it answers each call
// with the recorded judgement for the same prompt digest, so replay decides
// as the recorded run did. A call with no recorded judgement gets none.
func NewRecordedJudge(recorded []Judgement) *Judge {
	byDigest := make(map[string]Judgement, len(recorded))
	for _, j := range recorded {
		byDigest[j.Digest] = j
	}
	return &Judge{recorded: byDigest}
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Ask judges call. It never fails: a failure is a Judgement without an
// Answer whose Err says why, which leaves the verdict as it was.
func (j *Judge) Ask(ctx context.Context, call JudgeCall) Judgement {
	start := time.Now()
	p, err := buildPrompt(call)
	if err != nil {
		return Judgement{Model: j.model, Err: fmt.Sprintf("no prompt: %v", err)}
	}
	digest := p.digest()
	if j.recorded != nil {
		if rec, ok := j.recorded[digest]; ok {
			return rec
		}
		return Judgement{Digest: digest, Err: "no recorded judgement for this prompt"}
	}
	out := Judgement{Model: j.model, Digest: digest}
	if cached, ok := j.cache.get(digest, j.now()); ok {
		cached.Cached = true
		cached.Latency = time.Since(start)
		return cached
	}
	if !j.budget.Allow() {
		out.Err = fmt.Sprintf("over budget: at most %d model calls per minute", j.perMin)
		return out
	}
	answer, err := j.complete(ctx, p)
	out.Latency = time.Since(start)
	if err != nil {
		out.Err = err.Error()
		return out
	}
	out.Answer = &answer
	j.cache.put(digest, out, j.now())
	return out
}

// complete sends p and reads the constrained answer within the timeout.
func (j *Judge) complete(ctx context.Context, p prompt) (JudgeAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, j.timeout)
	defer cancel()
	resp, err := j.client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: j.model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: p.system},
			{Role: openai.ChatMessageRoleUser, Content: p.user},
		},
		ResponseFormat: &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name:   "judgement",
				Schema: judgeSchema,
				Strict: true,
			},
		},
	})
	if err != nil {
		return JudgeAnswer{}, describeFailure(ctx, j.timeout, err)
	}
	if len(resp.Choices) == 0 {
		return JudgeAnswer{}, errors.New("unparseable answer: no choices")
	}
	msg := resp.Choices[0].Message
	if msg.Refusal != "" {
		return JudgeAnswer{}, fmt.Errorf("unparseable answer: the model refused: %.200q", msg.Refusal)
	}
	a, err := parseAnswer(msg.Content)
	if err != nil {
		return JudgeAnswer{}, fmt.Errorf("unparseable answer: %w", err)
	}
	return a, nil
}

// describeFailure names why the endpoint gave no answer, for the chain and
// the verdict's reason.
func describeFailure(ctx context.Context, timeout time.Duration, err error) error {
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	status := 0
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("timeout: no answer within %v: %w", timeout, err)
	case ctx.Err() != nil:
		return fmt.Errorf("canceled: %w", err)
	case errors.As(err, &apiErr):
		status = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
	}
	if status == http.StatusTooManyRequests {
		return fmt.Errorf("rate limited by the endpoint (HTTP 429): %w", err)
	}
	return fmt.Errorf("endpoint error: %w", err)
}

// limitedDoer bounds how much of a reply is read, so a misbehaving endpoint
// cannot make the judge buffer without limit.
type limitedDoer struct{ c *http.Client }

func (d limitedDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{io.LimitReader(resp.Body, maxReply), resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
