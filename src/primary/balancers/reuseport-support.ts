/**
 * Where the reuseport balancer can run: Linux (the kernel spreads connections over the sockets
 * of a SO_REUSEPORT group; other systems either lack it or hand every connection to the last
 * socket bound), on a Node whose `net` passes SO_REUSEPORT to the bind: 22.12+ and 23.1+.
 */

/** Why reuseport cannot run here, or undefined when it can. */
export function reuseportUnsupported(version = process.versions.node, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform !== 'linux') return `it needs Linux (this is ${platform})`;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const supported = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  return supported ? undefined : `it needs Node 22.12+ or 23.1+, whose net binds with SO_REUSEPORT (this is Node ${version})`;
}
