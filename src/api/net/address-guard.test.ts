import { describe, expect, it } from "vitest";
import { isNonPublicAddress } from "./address-guard.js";

describe("isNonPublicAddress", () => {
  it.each(["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "not-an-ip"])("%s is refused", (ip) => {
    expect(isNonPublicAddress(ip)).toBe(true);
  });
  it.each(["8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"])("%s is allowed", (ip) => {
    expect(isNonPublicAddress(ip)).toBe(false);
  });
});
