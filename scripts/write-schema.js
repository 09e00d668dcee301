// npm run schema: writes corral.config.schema.json from the option tables (src/options/table.ts,
// src/cli/cli-options.ts). test/config-schema.test.ts fails while the committed file differs.
import { writeFileSync } from 'node:fs';
import { configSchema } from '../dist/cli/config-schema.js';

writeFileSync(new URL('../corral.config.schema.json', import.meta.url), `${JSON.stringify(configSchema(), null, 2)}\n`);
