import { SignJWT, jwtVerify, errors } from "jose";
import { env } from "@/server/env";

const ISSUER = "notify";

/** The HMAC key, imported once (handing jose the raw secret imports it again on every call). */
let hmacKey: Promise<CryptoKey> | null = null;
const key = () =>
  (hmacKey ??= crypto.subtle.importKey("raw", new TextEncoder().encode(env.AUTH_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]));

/**
 * Tokens verified before, until they expire: a browser or device sends the same token with every
 * request, and a token cannot be revoked before its expiry (erasure closes the sockets instead), so a
 * token that verified once stays valid until `exp`. Keyed by the whole token, so a tampered one is a
 * miss and is verified. Bounded: the oldest entry goes first.
 */
const VERIFIED_MAX = 20_000;
const verified = new Map<string, TokenClaims>();

export type TokenKind = "user" | "session";

/** Mints a signed token for one user: a bearer token for devices, or the browser session cookie. */
export async function signUserToken(userId: string, ttlSeconds: number, kind: TokenKind = "user"): Promise<{ token: string; expiresAt: Date }> {
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const token = await new SignJWT({ kind })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(await key());
  return { token, expiresAt };
}

export type TokenClaims = { userId: string; expiresAt: number };

/** The user and expiry (ms) of a valid token, or null (expired, tampered, wrong kind). */
export async function verifyUserTokenClaims(token: string, kind: TokenKind = "user"): Promise<TokenClaims | null> {
  const cacheKey = `${kind} ${token}`;
  const known = verified.get(cacheKey);
  if (known && known.expiresAt > Date.now()) return known;
  if (known) verified.delete(cacheKey);
  try {
    const { payload } = await jwtVerify(token, await key(), { issuer: ISSUER, algorithms: ["HS256"] });
    if (payload.kind !== kind || typeof payload.sub !== "string" || typeof payload.exp !== "number") return null;
    const claims = { userId: payload.sub, expiresAt: payload.exp * 1000 };
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(cacheKey, claims);
    return claims;
  } catch (error) {
    if (error instanceof errors.JOSEError) return null;
    throw error;
  }
}

/** The user id of a valid token, or null (expired, tampered, wrong kind). */
export async function verifyUserToken(token: string, kind: TokenKind = "user"): Promise<string | null> {
  return (await verifyUserTokenClaims(token, kind))?.userId ?? null;
}
