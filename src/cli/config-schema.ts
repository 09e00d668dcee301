/**
 * The JSON Schema of the config file (corral.config.schema.json at the package root), generated
 * from the option table and the CLI's own keys: `npm run schema` writes it, and
 * test/config-schema.test.ts checks that the committed file is what this gives.
 */
import { OPTION_TABLE } from '../options/table.js';
import { CLI_KEY_TABLE } from './cli-options.js';

export function configSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = { $schema: { type: 'string' } };
  for (const [key, spec] of [...Object.entries(OPTION_TABLE), ...Object.entries(CLI_KEY_TABLE)]) {
    properties[key] = { description: spec.description, ...spec.schema };
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://unpkg.com/corral/corral.config.schema.json',
    title: 'corral config',
    description: `Options of \`corral start\` (corral.config.{mjs,js,cjs,json,ts}); the same as createCluster()'s, plus ${
      Object.keys(CLI_KEY_TABLE).join(', ')}. Flags override them.`,
    type: 'object',
    additionalProperties: false,
    properties,
  };
}
