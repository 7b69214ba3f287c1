package demo

import (
	_ "embed"
	"strings"
)

//go:embed demo.yaml
var configTemplate string

// Config returns the demo's configuration file text for an upstream URL, a
// data directory, the hex SHA-256 of the agent's token and of the admin
// token, and the path of the agent's workflow (examples.SupportWorkflow,
// written out).
func Config(upstreamURL, dataDir, tokenSHA256, adminSHA256, workflow string) []byte {
	r := strings.NewReplacer("{{UPSTREAM_URL}}", upstreamURL, "{{DATA_DIR}}", dataDir, "{{TOKEN_SHA256}}", tokenSHA256,
		"{{ADMIN_SHA256}}", adminSHA256, "{{WORKFLOW}}", workflow)
	return []byte(r.Replace(configTemplate))
}
