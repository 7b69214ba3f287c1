package demo

import (
	_ "embed"
	"strings"
)

//go:embed demo.yaml
var configTemplate string

// WebhookSecretEnv is the variable the demo's configuration reads the
// webhook secret from; the demo sets it for itself.
const WebhookSecretEnv = "WARDEN_DEMO_WEBHOOK_SECRET"

// Config returns the demo's configuration file text for an upstream URL,
// the URL of the scripted approver's webhook, a data directory, the hex
// SHA-256 of the agent's token and of the admin token, and the path of the
// agent's workflow (examples.SupportWorkflow, written out).
func Config(upstreamURL, webhookURL, dataDir, tokenSHA256, adminSHA256, workflow string) []byte {
	r := strings.NewReplacer("{{UPSTREAM_URL}}", upstreamURL, "{{WEBHOOK_URL}}", webhookURL, "{{DATA_DIR}}", dataDir,
		"{{TOKEN_SHA256}}", tokenSHA256, "{{ADMIN_SHA256}}", adminSHA256, "{{WORKFLOW}}", workflow)
	return []byte(r.Replace(configTemplate))
}
