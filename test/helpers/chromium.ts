// A headless Chromium (Debian's `chromium`, installed by `npm run setup:tools`) driven over the
// DevTools protocol, for the dashboard test: open a page, evaluate in it (awaiting promises, so a
// test waits on the page's own DOM changes rather than sleeping), take a screenshot. Chromium is
// started through startProgram, so killPrograms() ends it even when a test fails.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { startProgram } from './program.js';
import { requireTool } from './tools.js';

export interface BrowserPage {
  /** Evaluates `expression` in the page; a promise it returns is awaited. Resolves with its value (JSON). */
  evaluate<T>(expression: string): Promise<T>;
  screenshot(file: string): Promise<void>;
  close(): void;
}

export async function openPage(url: string, size = { width: 1280, height: 1000 }): Promise<BrowserPage> {
  requireTool('chromium', 'chromium', 'the dashboard test (a real browser)');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'corral-chromium-'));
  const browser = startProgram('--headless=new', [
    '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--remote-debugging-port=0',
    `--user-data-dir=${profile}`, `--window-size=${size.width},${size.height}`, 'about:blank',
  ], { execPath: 'chromium' });
  const [line] = await browser.waitForErr(/DevTools listening on ws:\/\//, 1, 30_000);
  const endpoint = new URL(/ws:\/\/\S+/.exec(line!)![0]);
  const targets = await (await fetch(`http://${endpoint.host}/json/list`)).json() as { type: string; webSocketDebuggerUrl: string }[];
  const target = targets.find((entry) => entry.type === 'page');
  if (target === undefined) throw new Error(`Chromium opened no page: ${JSON.stringify(targets)}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }>();
  const listeners = new Map<string, (() => void)[]>();
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string };
    if (message.id !== undefined) {
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (message.error !== undefined) call?.reject(new Error(message.error.message));
      else call?.resolve(message.result ?? {});
    } else if (message.method !== undefined) {
      for (const listener of listeners.get(message.method) ?? []) listener();
      listeners.delete(message.method);
    }
  });
  const call = (method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    socket.send(JSON.stringify({ id, method, params }));
  });
  const next = (method: string): Promise<void> => new Promise((resolve) => listeners.set(method, [...(listeners.get(method) ?? []), resolve]));
  await call('Page.enable');
  const loaded = next('Page.loadEventFired');
  await call('Page.navigate', { url });
  await loaded;
  return {
    async evaluate<T>(expression: string): Promise<T> {
      const result = await call('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }) as {
        result: { value?: unknown }; exceptionDetails?: { exception?: { description?: string }; text: string };
      };
      if (result.exceptionDetails !== undefined) throw new Error(`in the page: ${result.exceptionDetails.exception?.description ?? result.exceptionDetails.text}`);
      return result.result.value as T;
    },
    async screenshot(file: string): Promise<void> {
      const { data } = await call('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }) as { data: string };
      writeFileSync(file, Buffer.from(data, 'base64'));
    },
    close(): void {
      socket.close();
      browser.child.kill('SIGKILL');
      // Chromium's helper processes may still write to the profile for a moment after it exits.
      void browser.exited.then(() => {
        try {
          rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
        } catch {
          // Left in the temporary directory.
        }
      });
    },
  };
}
