/**
 * Lists of numbers told in one short line, however long the list: a log line or a reply that
 * names 999 slots must stay readable, and cheap to write.
 */

/** Whole numbers as ranges, sorted: [5, 1, 2, 3, 7, 8] → "1–3, 5, 7–8"; past `most` ranges, "… and N more". */
export function numberRanges(numbers: readonly number[], most = 8): string {
  const sorted = [...numbers].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let start = 0; start < sorted.length;) {
    let end = start;
    while (end + 1 < sorted.length && sorted[end + 1] === sorted[end]! + 1) end += 1;
    ranges.push(end === start ? String(sorted[start]) : `${sorted[start]}–${sorted[end]}`);
    start = end + 1;
  }
  return shortList(ranges, most);
}

/** The first `most` items, then "and N more": ["a", "b", "c"] with most 2 → "a, b and 1 more". */
export function shortList(items: readonly (string | number)[], most = 8): string {
  if (items.length <= most) return items.join(', ');
  return `${items.slice(0, most).join(', ')} and ${items.length - most} more`;
}
