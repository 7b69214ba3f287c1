// Package geo locates client addresses in MaxMind-format (MMDB)
// databases: the country, and the autonomous system that announces the
// address. It is warden's one edge to the MMDB reader.
package geo

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Place is where an address is. A field is empty (0) when no database
// was given for it or the database does not know the address.
type Place struct {
	// Country is the ISO 3166-1 alpha-2 code, e.g. "DE".
	Country string `json:"country,omitempty"`
	// ASN is the autonomous system number.
	ASN uint `json:"asn,omitempty"`
	// Org is the autonomous system's owner.
	Org string `json:"org,omitempty"`
}

// DB is an open pair of databases; it is safe for concurrent use.
type DB struct {
	country, asn *maxminddb.Reader
}

// Open opens the country and ASN databases; either path may be empty,
// not both.
func Open(countryPath, asnPath string) (*DB, error) {
	if countryPath == "" && asnPath == "" {
		return nil, errors.New("geo: no database to open")
	}
	db := &DB{}
	var err error
	if countryPath != "" {
		if db.country, err = maxminddb.Open(countryPath); err != nil {
			return nil, fmt.Errorf("geo: open country database %s: %w", countryPath, err)
		}
	}
	if asnPath != "" {
		if db.asn, err = maxminddb.Open(asnPath); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("geo: open ASN database %s: %w", asnPath, err)
		}
	}
	return db, nil
}

// countryRecord reads both common layouts: MaxMind's country.iso_code
// and the flat country_code of the ip-location-db databases.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	CountryCode string `maxminddb:"country_code"`
}

type asnRecord struct {
	Number uint   `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// Lookup returns where addr is. An address that a database does not
// cover leaves its fields empty; an error means a database is unreadable.
func (db *DB) Lookup(addr netip.Addr) (Place, error) {
	var p Place
	addr = addr.Unmap()
	if db.country != nil {
		var c countryRecord
		if err := db.country.Lookup(addr).Decode(&c); err != nil {
			return p, fmt.Errorf("geo: country of %s: %w", addr, err)
		}
		p.Country = c.Country.ISOCode
		if p.Country == "" {
			p.Country = c.CountryCode
		}
	}
	if db.asn != nil {
		var a asnRecord
		if err := db.asn.Lookup(addr).Decode(&a); err != nil {
			return p, fmt.Errorf("geo: ASN of %s: %w", addr, err)
		}
		p.ASN, p.Org = a.Number, a.Org
	}
	return p, nil
}

// Close releases the databases.
func (db *DB) Close() error {
	var errs []error
	for _, r := range []*maxminddb.Reader{db.country, db.asn} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}
