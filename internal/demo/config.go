package demo

import (
	_ "embed"
	"strings"
)

//go:embed demo.yaml
var configTemplate string

// Config returns the demo's configuration file text for an upstream URL, a
// data directory and the hex SHA-256 of the agent's token.
func Config(upstreamURL, dataDir, tokenSHA256 string) []byte {
	r := strings.NewReplacer("{{UPSTREAM_URL}}", upstreamURL, "{{DATA_DIR}}", dataDir, "{{TOKEN_SHA256}}", tokenSHA256)
	return []byte(r.Replace(configTemplate))
}
