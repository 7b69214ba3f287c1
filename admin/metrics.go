package admin

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// Metrics are warden's Prometheus metrics, in a registry of their own (no
// global one). They observe the supervisor's call path (they are its
// supervisor.Observer) and the webhooks (Delivered), and read its sessions,
// approvals and upstreams when scraped. Labels are bounded: agents, tools,
// upstreams, verdicts and outcomes, never sessions or arguments.
type Metrics struct {
	reg          *prometheus.Registry
	calls        *prometheus.CounterVec
	decision     *prometheus.HistogramVec
	upstream     *prometheus.HistogramVec
	upstreamErrs *prometheus.CounterVec
	approvals    *prometheus.CounterVec
	approvalWait *prometheus.HistogramVec
	kills        *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
	sup          atomic.Pointer[supervisor.Supervisor] // read at scrape time
}

// NewMetrics makes warden's metrics, registered in a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_calls_total",
		Help: "Calls decided, by agent, tool and verdict (allow, flag, throttle, step_up, deny, kill)."},
		[]string{"agent", "tool", "verdict"})
	m.decision = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "warden_decision_duration_seconds",
		Help:    "Time to decide a call and put its verdict on durable record, by agent.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"agent"})
	m.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "warden_upstream_call_duration_seconds",
		Help:    "Time an upstream took to answer a forwarded call, by upstream.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"upstream"})
	m.upstreamErrs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_upstream_call_failures_total",
		Help: "Forwarded calls that got no result from their upstream, by upstream."}, []string{"upstream"})
	m.approvals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_approvals_total",
		Help: "Held calls whose approval ended, by agent and outcome (approved, denied, expired)."},
		[]string{"agent", "outcome"})
	m.approvalWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "warden_approval_wait_seconds",
		Help:    "Time from a call being held to its approval's outcome, by outcome.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}}, []string{"outcome"})
	m.kills = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_kills_total",
		Help: "Live sessions killed, by agent."}, []string{"agent"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_webhook_deliveries_total",
		Help: "Webhook deliveries (one per message and URL, retries done), by event and result (ok, failed)."},
		[]string{"event", "result"})
	m.reg.MustRegister(m.calls, m.decision, m.upstream, m.upstreamErrs, m.approvals, m.approvalWait, m.kills, m.webhooks,
		newScraped(m))
	return m
}

// CallDecided implements supervisor.Observer.
func (m *Metrics) CallDecided(agent, tool, verdict string, took time.Duration) {
	m.calls.WithLabelValues(agent, tool, verdict).Inc()
	if took > 0 {
		m.decision.WithLabelValues(agent).Observe(took.Seconds())
	}
}

// UpstreamCalled implements supervisor.Observer.
func (m *Metrics) UpstreamCalled(upstream, _ string, took time.Duration, failed bool) {
	m.upstream.WithLabelValues(upstream).Observe(took.Seconds())
	// Made at the first call, so that a rate of failures reads 0, not absent.
	errs := m.upstreamErrs.WithLabelValues(upstream)
	if failed {
		errs.Inc()
	}
}

// ApprovalSettled implements supervisor.Observer.
func (m *Metrics) ApprovalSettled(agent, state string, waited time.Duration) {
	m.approvals.WithLabelValues(agent, state).Inc()
	m.approvalWait.WithLabelValues(state).Observe(waited.Seconds())
}

// SessionKilled implements supervisor.Observer.
func (m *Metrics) SessionKilled(agent string) {
	m.kills.WithLabelValues(agent).Inc()
}

// Delivered counts a webhook delivery; it is notify.Options.Delivered.
func (m *Metrics) Delivered(eventType string, err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	m.webhooks.WithLabelValues(eventType, result).Inc()
}

// handler serves the metrics of sup in Prometheus's text format.
func (m *Metrics) handler(sup *supervisor.Supervisor) http.Handler {
	m.sup.Store(sup)
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// scraped collects the gauges read from the supervisor when scraped.
type scraped struct {
	m                                       *Metrics
	sessions, pending, up, upSess, restarts *prometheus.Desc
	// The write-ahead log's counters (store.LogStats): rates of these give
	// events per fsync and the mean wait for a durable write.
	appends, syncs, syncTime, waited *prometheus.Desc
}

func newScraped(m *Metrics) scraped {
	return scraped{m: m,
		sessions: prometheus.NewDesc("warden_sessions_live", "Live sessions, by agent.", []string{"agent"}, nil),
		pending:  prometheus.NewDesc("warden_approvals_pending", "Calls held for an approver now.", nil, nil),
		up:       prometheus.NewDesc("warden_upstream_up", "Whether warden is connected to the upstream (1) or not (0).", []string{"upstream"}, nil),
		upSess:   prometheus.NewDesc("warden_upstream_sessions", "Upstream sessions open for agents' sessions, by upstream.", []string{"upstream"}, nil),
		restarts: prometheus.NewDesc("warden_upstream_restarts_total", "Times warden's own connection to the upstream was lost after it was up, and restarted.", []string{"upstream"}, nil),
		appends:  prometheus.NewDesc("warden_durable_writes_total", "Events made durable in the history's write-ahead log.", nil, nil),
		syncs:    prometheus.NewDesc("warden_durable_fsyncs_total", "fdatasyncs of the write-ahead log (concurrent writes share them).", nil, nil),
		syncTime: prometheus.NewDesc("warden_durable_fsync_seconds_total", "Time spent in the write-ahead log's fdatasyncs.", nil, nil),
		waited:   prometheus.NewDesc("warden_durable_write_wait_seconds_total", "Time writes waited, summed, from the call until their event was durable.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c scraped) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessions
	ch <- c.pending
	ch <- c.up
	ch <- c.upSess
	ch <- c.restarts
	ch <- c.appends
	ch <- c.syncs
	ch <- c.syncTime
	ch <- c.waited
}

// Collect implements prometheus.Collector.
func (c scraped) Collect(ch chan<- prometheus.Metric) {
	sup := c.m.sup.Load()
	if sup == nil {
		return
	}
	for _, a := range sup.Agents() {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(a.LiveSessions), a.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(sup.PendingApprovals()))
	for _, u := range sup.Upstreams() {
		up := 0.0
		if u.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, u.Name)
		ch <- prometheus.MustNewConstMetric(c.upSess, prometheus.GaugeValue, float64(u.Sessions), u.Name)
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(u.Restarts), u.Name)
	}
	if l, ok := sup.Store().(interface{ LogStats() store.LogStats }); ok {
		st := l.LogStats()
		ch <- prometheus.MustNewConstMetric(c.appends, prometheus.CounterValue, float64(st.Appends))
		ch <- prometheus.MustNewConstMetric(c.syncs, prometheus.CounterValue, float64(st.Syncs))
		ch <- prometheus.MustNewConstMetric(c.syncTime, prometheus.CounterValue, st.SyncTime.Seconds())
		ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, st.Wait.Seconds())
	}
}
