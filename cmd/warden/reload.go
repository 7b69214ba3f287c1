package main

import (
	"reflect"
	"slices"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/supervisor"
)

// needsRestart names the settings that differ between the configuration
// warden runs with and a reloaded one but that only a restart applies:
// what is listened on and stored where, and how requests are bounded.
// The rest of the reload applies; these keep their running values.
func needsRestart(running, next *config.Config) []string {
	var out []string
	differ := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, name)
		}
	}
	differ("listen", running.Listen, next.Listen)
	differ("allowed_hosts", running.AllowedHosts, next.AllowedHosts)
	differ("allowed_origins", running.AllowedOrigins, next.AllowedOrigins)
	differ("max_body_bytes", running.MaxBodyBytes, next.MaxBodyBytes)
	differ("session_idle_ttl", running.SessionIdleTTL, next.SessionIdleTTL)
	differ("data_dir", running.DataDir, next.DataDir)
	differ("log", running.Log, next.Log)
	differ("admin (listen)", adminListen(running), adminListen(next))
	differ("approvals", running.Approvals, next.Approvals)
	differ("revalidation", running.Revalidation, next.Revalidation)
	differ("network", running.Network, next.Network)
	differ("retention", running.Retention, next.Retention)
	differ("anchor", running.Anchor, next.Anchor)
	differ("tracing", running.Tracing, next.Tracing)
	differ("store", running.Store, next.Store)
	differ("export", running.Export, next.Export)
	differ("agents' retention", agentRetention(running), agentRetention(next))
	differ("upstreams (validate_args)", keysOnly(running), keysOnly(next))
	slices.Sort(out)
	return out
}

// adminListen is where the admin API listens, "" without one. Its token
// is reloaded; where it listens is not.
func adminListen(cfg *config.Config) string {
	if cfg.Admin == nil {
		return ""
	}
	return cfg.Admin.Listen
}

// agentRetention is each agent's own retention limits, by name: the
// retention job started with them.
func agentRetention(cfg *config.Config) map[string]*config.AgentRetention {
	out := map[string]*config.AgentRetention{}
	for _, a := range cfg.Agents {
		if a.Retention != nil {
			out[a.Name] = a.Retention
		}
	}
	return out
}

// keepJudges gives each agent of next whose judge section is unchanged
// since prevCfg the judge it runs with (from prev), so that a reload
// neither refills a judge's per-minute budget nor empties its cache.
func keepJudges(prevCfg *config.Config, prev []supervisor.Agent, next *config.Config, agents []supervisor.Agent) {
	was := map[string]*config.Judge{}
	for _, a := range prevCfg.Agents {
		was[a.Name] = a.Judge
	}
	running := map[string]supervisor.Agent{}
	for _, a := range prev {
		running[a.Name] = a
	}
	for i, a := range next.Agents {
		old, ok := running[a.Name]
		if ok && a.Judge != nil && old.Judge != nil && reflect.DeepEqual(was[a.Name], a.Judge) {
			agents[i].Judge = old.Judge
		}
	}
}
