package admin

import "github.com/prometheus/client_golang/prometheus"

// PolicyGauge says whether this replica runs the policy the replicas
// last announced (warden_policy_diverged 0) or not (1: its copy of the
// configuration differs, or did not load).
type PolicyGauge struct{ g prometheus.Gauge }

// NewPolicyGauge registers the gauge; a replica makes one, a lone warden
// none.
func (m *Metrics) NewPolicyGauge() *PolicyGauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "warden_policy_diverged",
		Help: "1 when this replica does not run the policy the replicas last announced (warden replicas says why), else 0."})
	m.reg.MustRegister(g)
	return &PolicyGauge{g: g}
}

// Set records whether the replica's policy diverges.
func (p *PolicyGauge) Set(diverged bool) {
	v := 0.0
	if diverged {
		v = 1
	}
	p.g.Set(v)
}
