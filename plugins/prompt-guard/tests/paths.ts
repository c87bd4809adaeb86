// Paths the tests share: the shipped rules and quarantine list live in the repository's config/.
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const SHIPPED_RULES = `${REPO_ROOT}config/indirect-injection-rules.json`;
export const SHIPPED_QUARANTINE = `${REPO_ROOT}config/quarantine.json`;
