// Which addresses outbound requests (image URLs, webhooks, upload endpoints) may reach: public unicast only.
import { isIP } from "node:net";

function v4Parts(ip: string): number[] {
  return ip.split(".").map(Number);
}

function isPrivateV4(ip: string): boolean {
  const [a = 0, b = 0] = v4Parts(ip);
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) || // CGNAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // 192.0.0.0/24, 192.0.2.0/24
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51) || (a === 203 && b === 0)
  );
}

/** True for loopback, private, link-local, unique-local, multicast, unspecified and documentation ranges (v4 and v6). */
export function isNonPublicAddress(ip: string): boolean {
  const kind = isIP(ip);
  if (kind === 4) return isPrivateV4(ip);
  if (kind !== 6) return true;
  const lower = ip.toLowerCase();
  const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped !== null) return isPrivateV4(mapped[1]!);
  if (lower === "::" || lower === "::1") return true;
  const first = parseInt(lower.split(":")[0] || "0", 16);
  return (
    (first & 0xfe00) === 0xfc00 || // fc00::/7 unique local
    (first & 0xffc0) === 0xfe80 || // fe80::/10 link local
    (first & 0xff00) === 0xff00 || // multicast
    first === 0x2001 && parseInt(lower.split(":")[1] || "0", 16) === 0x0db8 || // documentation
    first === 0x0064 // 64:ff9b::/96 NAT64 can reach private v4
  );
}
