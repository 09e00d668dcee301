// The `corral` command runs as the app's primary for as long as the app runs, so its memory
// counts. Loaded as ~50 separate ES modules it costs about 5 MiB more RSS than as one CommonJS
// file (the module loaders' own work; see the memory figures of `npm run bench`), so the build
// bundles the CLI into dist/cli/bundle.cjs. The CommonJS files stay separate: the version check
// must load on any Node, and workers load the runtime by path. The bundle sits next to
// dist/cli/main.js, so the relative paths the sources resolve from import.meta.url still hold.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../dist/cli/main.js', import.meta.url).pathname],
  outfile: new URL('../dist/cli/bundle.cjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['*.cjs'],
  define: { 'import.meta.url': '__corralModuleUrl' },
  banner: { js: 'const __corralModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  sourcemap: true,
  // The sources are in the package (src/), as for every other file of dist/.
  sourcesContent: false,
  logLevel: 'warning',
});
