/**
 * Prometheus's text exposition format (0.0.4) and OpenMetrics 1.0, written from metric families.
 * One writer for corral's own series and the app's aggregated ones, so that both follow the same
 * rules: names and label names checked, label values and help escaped, a counter's samples named
 * `…_total` and its OpenMetrics family without it, `# EOF` at the end of OpenMetrics.
 */

import { ITEMS_PER_STEP, runSync, type Steps } from '../util/sliced.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's full name when it differs from the family's (`…_bucket`, `…_sum`, `…_count`). */
  name?: string;
  labels?: Readonly<Record<string, string | number>>;
  value: number;
}

export interface MetricFamily {
  /** The family's name; a counter's ends in `_total` (its samples' name in both formats). */
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** OpenMetrics when the scraper asks for it (Prometheus does, by its Accept header), else the text format. */
export function negotiate(accept: string | undefined): ExpositionFormat {
  if (accept === undefined) return 'prometheus';
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') continue;
    const quality = params.find((param) => param.startsWith('q='));
    if (quality !== undefined && Number(quality.slice(2)) === 0) continue;
    return 'openmetrics';
  }
  return 'prometheus';
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

const escapeHelp = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function formatLabels(labels: Readonly<Record<string, string | number>> | undefined): string {
  if (labels === undefined) return '';
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) parts.push(`${name}="${escapeLabel(String(value))}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** The family name OpenMetrics declares: a counter's without `_total`. */
function openMetricsFamilyName(family: MetricFamily): string {
  return family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
}

function sampleName(family: MetricFamily, sample: Sample, format: ExpositionFormat): string {
  if (sample.name !== undefined) return sample.name;
  // OpenMetrics names a counter's sample …_total, always (prom-client lets a counter be named
  // without it); the text format names it as its family.
  return format === 'openmetrics' && family.type === 'counter' && !family.name.endsWith('_total') ? `${family.name}_total` : family.name;
}

export function render(families: readonly MetricFamily[], format: ExpositionFormat): string {
  return runSync(renderSteps(families, format));
}

/** render, as steps (util/sliced.ts): the admin server renders in slices. */
export function* renderSteps(families: readonly MetricFamily[], format: ExpositionFormat): Steps<string> {
  const lines: string[] = [];
  let done = 0;
  for (const family of families) {
    if (++done % ITEMS_PER_STEP === 0) yield;
    const declared = format === 'openmetrics' ? openMetricsFamilyName(family) : family.name;
    const type = format === 'openmetrics' && family.type === 'untyped' ? 'unknown' : family.type;
    lines.push(`# HELP ${declared} ${escapeHelp(family.help)}`, `# TYPE ${declared} ${type}`);
    for (const sample of family.samples) {
      lines.push(`${sampleName(family, sample, format)}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
      if (++done % ITEMS_PER_STEP === 0) yield;
    }
  }
  if (format === 'openmetrics') lines.push('# EOF');
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
