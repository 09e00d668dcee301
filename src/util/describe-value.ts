/** How an error message shows a bad value: its text and type, without dumping objects. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}' (string)`;
  if (value === null) return '`null`';
  if (value === undefined) return '`undefined`';
  if (Array.isArray(value)) return `an array (${value.length} items)`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  const primitive = value as string | number | boolean | bigint | symbol;
  return `\`${primitive.toString()}\` (${typeof value})`;
}
