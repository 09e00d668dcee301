#!/usr/bin/env node
import { run } from '../dist/cli/main.js';

process.exitCode = run(process.argv.slice(2), (text) => process.stdout.write(text));
