// User tokens: a verified token is remembered until it expires, and remembering changes no answer.
import { describe, expect, it } from "vitest";
import { signUserToken, verifyUserToken, verifyUserTokenClaims } from "@/server/auth/user-token";

describe("user tokens", () => {
  it("verifies a token again from memory, and still refuses a tampered copy of it", async () => {
    const { token, expiresAt } = await signUserToken("ann", 600);
    expect(await verifyUserTokenClaims(token)).toEqual({ userId: "ann", expiresAt: Math.floor(expiresAt.getTime() / 1000) * 1000 });
    expect(await verifyUserToken(token)).toBe("ann");
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const flipped = signature.slice(0, -2) + (signature.at(-2) === "A" ? "B" : "A") + signature.at(-1);
    expect(await verifyUserToken(`${header}.${payload}.${flipped}`)).toBeNull();
    // Another subject under the same signature.
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), sub: "bob" })).toString("base64url");
    expect(await verifyUserToken(`${header}.${forged}.${signature}`)).toBeNull();
  });

  it("keeps kinds apart: a session cookie remembered as valid is still no bearer token", async () => {
    const { token } = await signUserToken("ann", 600, "session");
    expect(await verifyUserToken(token, "session")).toBe("ann");
    expect(await verifyUserToken(token, "user")).toBeNull();
    expect(await verifyUserToken(token, "session")).toBe("ann");
  });

  it("forgets a remembered token when it expires", async () => {
    expect(await verifyUserToken((await signUserToken("ann", -5)).token)).toBeNull();
    const { token } = await signUserToken("ann", 2);
    expect(await verifyUserToken(token)).toBe("ann");
    expect(await verifyUserToken(token)).toBe("ann");
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(await verifyUserToken(token)).toBeNull();
  });
});
