// The system's Chromium for browser-level tests (driven by playwright-core, which downloads no
// browser): CHROMIUM_PATH, else `chromium` or `chromium-browser` on PATH. Without one those tests
// skip with a warning, unless CI_REQUIRE_BROWSER=1 makes that a failure.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export function findChromium(): string | null {
  const candidates = [
    ...(process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : []),
    ...(process.env.PATH ?? '').split(path.delimiter).flatMap((dir) => (dir ? [path.join(dir, 'chromium'), path.join(dir, 'chromium-browser')] : [])),
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there; try the next
    }
  }
  return null;
}

export const isBrowserRequired = Boolean(process.env.CI_REQUIRE_BROWSER);

export const NO_BROWSER_REASON = 'no chromium binary on PATH (apt-get install -y chromium, or set CHROMIUM_PATH); set CI_REQUIRE_BROWSER=1 to make this a failure';
