package config

import (
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
	fields, ok := d.mapping(n, "store.postgres", "url_env", "replica")
	if !ok {
		return p
	}
	for _, f := range fields {
		switch {
		case f.name == "url_env" && f.val != nil:
			p.URLEnv, p.URL = d.postgresURL(f.val)
		case f.name == "replica":
			p.Replica = d.replicaName(f.val)
		}
	}
	if p.URLEnv == "" {
		d.errorf(n, "store.postgres needs url_env: the environment variable holding the connection URL")
	}
	return p
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
// works on the bbolt file.
func (d *decoder) checkStore(s Store, retentionAt ast.Node) {
	if s.Postgres == nil {
		return
	}
	if retentionAt != nil {
		d.errorf(retentionAt, "retention is not available with store.postgres yet (it prunes the bbolt file); remove one of them")
	}
}
