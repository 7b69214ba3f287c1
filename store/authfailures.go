package store

import "time"

// AuthFailures is the Data of a KindAuthFailures event: the requests
// refused for their bearer token between From and Until.
type AuthFailures struct {
	From      time.Time           `json:"from"`
	Until     time.Time           `json:"until"`
	Addresses []AuthFailureSource `json:"addresses"`
	// More counts the refusals from addresses beyond those named: a
	// record names a bounded number of addresses.
	More int `json:"more,omitempty"`
}

// AuthFailureSource is one client address's refused requests in a window.
type AuthFailureSource struct {
	Address string `json:"address"`
	// Missing counts requests with no bearer token; Invalid those whose
	// token matched no agent. The tokens themselves are never kept.
	Missing int       `json:"missing,omitempty"`
	Invalid int       `json:"invalid,omitempty"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}
