package config

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Store says where the history is kept: the bbolt file in DataDir when
// Postgres is nil.
type Store struct {
	// Postgres keeps the history in a PostgreSQL database; nil for bbolt.
	Postgres *Postgres
}

// Postgres is the store.postgres section.
type Postgres struct {
	// URLEnv names the environment variable holding the connection URL.
	URLEnv string
	// URL is that variable's value: a postgres:// URL or a key=value
	// connection string. It is a Secret (it may hold a password), so it
	// never prints.
	URL Secret
	// Replica names this warden among several serving one database
	// (store.postgres.replica): each session is then served under a lease
	// that any replica may take over. Empty: this warden is the only one.
	Replica string
	// Advertise is the base URL (scheme://host:port) at which the other
	// replicas reach this replica's MCP endpoint
	// (store.postgres.advertise): they forward to it the requests of the
	// sessions it serves. Empty: the serve listener's own address, which
	// must then be on loopback.
	Advertise string
}

// store reads the top-level store section.
func (d *decoder) store(n ast.Node) Store {
	var s Store
	fields, ok := d.mapping(n, "store", "postgres")
	if !ok {
		return s
	}
	for _, f := range fields {
		if f.name != "postgres" {
			continue
		}
		if f.val == nil {
			d.errorf(f.key, "store.postgres needs url_env: the environment variable holding the connection URL")
			continue
		}
		s.Postgres = d.postgres(f.val)
	}
	return s
}

func (d *decoder) postgres(n ast.Node) *Postgres {
	p := &Postgres{}
	fields, ok := d.mapping(n, "store.postgres", "url_env", "replica", "advertise")
	if !ok {
		return p
	}
	for _, f := range fields {
		switch {
		case f.name == "url_env" && f.val != nil:
			p.URLEnv, p.URL = d.postgresURL(f.val)
		case f.name == "replica":
			p.Replica = d.replicaName(f.val)
		case f.name == "advertise":
			p.Advertise = d.advertise(f.val)
		}
	}
	if p.URLEnv == "" {
		d.errorf(n, "store.postgres needs url_env: the environment variable holding the connection URL")
	}
	return p
}

// advertise reads store.postgres.advertise: an http(s) URL naming a host
// other replicas can connect to, and nothing beyond host and port.
func (d *decoder) advertise(n ast.Node) string {
	const what = "store.postgres.advertise"
	v, ok := d.nonEmpty(n, what)
	if !ok {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		d.errorf(n, "%s %q: want the URL other replicas reach this one at, like http://10.0.0.5:7800", what, v)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		d.errorf(n, "%s %q: give scheme, host and port only (requests keep their own path, /mcp)", what, v)
	case unspecified(u.Hostname()):
		d.errorf(n, "%s %q: %s is every address of this machine, which another replica cannot connect to; name one", what, v, u.Hostname())
	default:
		return strings.TrimSuffix(v, "/")
	}
	return ""
}

func unspecified(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "" || (err == nil && ip.IsUnspecified())
}

// replicaName reads store.postgres.replica: a name without spaces, as it
// is recorded as each lease's owner.
func (d *decoder) replicaName(n ast.Node) string {
	name, ok := d.nonEmpty(n, "store.postgres.replica")
	if ok && strings.ContainsAny(name, " \t\n") {
		d.errorf(n, "store.postgres.replica %q has a space: name this replica (unique among those sharing the database) without one", name)
		return ""
	}
	return name
}

// postgresURL reads url_env's name and the URL it holds, without ever
// putting the URL in a message.
func (d *decoder) postgresURL(n ast.Node) (string, Secret) {
	const what = "store.postgres.url_env"
	name, v, ok := d.envValue(n, what)
	if !ok {
		return name, nil
	}
	if v == "" {
		d.unset(n, what, name)
		return name, nil
	}
	if scheme, _, isURL := strings.Cut(v, "://"); isURL && scheme != "postgres" && scheme != "postgresql" {
		d.errorf(n, "%s: the value of %s is a %s:// URL; want postgres:// (or a key=value connection string)", what, name, scheme)
		return name, nil
	}
	return name, Secret(v)
}

// checkStore refuses what the PostgreSQL store does not do yet: retention
// works on the bbolt file; advertise belongs to a replica, and one not on
// loopback must say where the others reach it.
func (d *decoder) checkStore(s Store, listen string, storeAt, retentionAt ast.Node) {
	if s.Postgres == nil {
		return
	}
	if p := s.Postgres; p.Advertise != "" && p.Replica == "" {
		d.errorf(storeAt, "store.postgres.advertise is for replicas: set store.postgres.replica too, or remove advertise")
	}
	if p := s.Postgres; p.Replica != "" && p.Advertise == "" {
		if host, _, err := net.SplitHostPort(listen); err != nil || !loopbackHost(host) {
			d.errorf(storeAt, "store.postgres.advertise is needed: listen %q is not on loopback, so name the URL other replicas reach this one at (like http://10.0.0.5:7800)", listen)
		}
	}
	if retentionAt != nil {
		d.errorf(retentionAt, "retention is not available with store.postgres yet (it prunes the bbolt file); remove one of them")
	}
}
