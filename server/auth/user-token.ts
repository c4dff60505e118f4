import { SignJWT, jwtVerify, errors } from "jose";
import { env } from "@/server/env";

const secret = new TextEncoder().encode(env.AUTH_SECRET);
const ISSUER = "notify";

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
    .sign(secret);
  return { token, expiresAt };
}

export type TokenClaims = { userId: string; expiresAt: number };

/** The user and expiry (ms) of a valid token, or null (expired, tampered, wrong kind). */
export async function verifyUserTokenClaims(token: string, kind: TokenKind = "user"): Promise<TokenClaims | null> {
  try {
    const { payload } = await jwtVerify(token, secret, { issuer: ISSUER, algorithms: ["HS256"] });
    if (payload.kind !== kind || typeof payload.sub !== "string" || typeof payload.exp !== "number") return null;
    return { userId: payload.sub, expiresAt: payload.exp * 1000 };
  } catch (error) {
    if (error instanceof errors.JOSEError) return null;
    throw error;
  }
}

/** The user id of a valid token, or null (expired, tampered, wrong kind). */
export async function verifyUserToken(token: string, kind: TokenKind = "user"): Promise<string | null> {
  return (await verifyUserTokenClaims(token, kind))?.userId ?? null;
}
