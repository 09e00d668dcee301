// Removes the previous build, so that files of sources since deleted or renamed never linger in
// dist/ (and in the package) or in build/ (as stale tests).
import { rmSync } from 'node:fs';

for (const dir of ['dist', 'build']) rmSync(new URL(`../${dir}`, import.meta.url), { recursive: true, force: true });
