/**
 * The JSON Schema of the config file (corral.config.schema.json at the package root), generated
 * from the option table and the CLI's own keys: `npm run schema` writes it, and
 * test/config-schema.test.ts checks that the committed file is what this gives.
 */
import { OPTION_TABLE } from '../options/table.js';
import { CLI_KEY_TABLE } from './cli-options.js';
import { PROFILE_KEY } from './config-file.js';

export function configSchema(): Record<string, unknown> {
  const appProperties: Record<string, unknown> = {};
  for (const [key, spec] of [...Object.entries(OPTION_TABLE), ...Object.entries(CLI_KEY_TABLE)]) {
    appProperties[key] = { description: spec.description, ...spec.schema };
  }
  // env_production, env_staging…: chosen with --profile.
  const profiles = {
    [PROFILE_KEY.source]: { description: 'An environment profile, used over `env` when chosen with --profile <name>.', ...OPTION_TABLE.env.schema },
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://unpkg.com/corral/corral.config.schema.json',
    title: 'corral config',
    description: `Options of \`corral start\` (corral.config.{mjs,js,cjs,json,ts}); the same as createCluster()'s, plus ${
      Object.keys(CLI_KEY_TABLE).join(', ')}, and env_<profile> blocks. Flags override them. Or several apps: { apps: [{ … }, …] }. ` +
      "PM2's ecosystem keys are read too (the README's \"Coming from PM2\"); this schema describes corral's own.",
    type: 'object',
    // One app's keys are declared once ($defs.appKeys) and used at the top and in each of `apps`.
    $ref: '#/$defs/appKeys',
    unevaluatedProperties: false,
    properties: {
      $schema: { type: 'string' },
      apps: {
        description: 'Several apps (as PM2\'s ecosystem file has them), each run by its own primary: `corral start <file> -d` starts them all, `--only <name>` one.',
        type: 'array',
        minItems: 1,
        items: { type: 'object', $ref: '#/$defs/appKeys', unevaluatedProperties: false },
      },
    },
    $defs: {
      appKeys: { type: 'object', properties: appProperties, patternProperties: profiles },
    },
  };
}
