/**
 * The MessagePack size of the benchmark value `{ n, s: 'hello' }`, as stratadb stores it: what "the value" is when
 * the memory workloads subtract key and value bytes from what a version costs.
 */
export function valueBytes(n) {
  // fixmap header, fixstr "n", the int, fixstr "s", fixstr "hello"
  const int = n < 128 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5
  return 1 + 2 + int + 2 + 6
}
