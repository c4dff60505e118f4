// The part of http_ece (Encrypted Content-Encoding for HTTP, RFC 8188) the push stand-in uses.
declare module "http_ece" {
  import type { ECDH } from "node:crypto";
  type Params = { version: "aes128gcm" | "aesgcm"; privateKey?: ECDH; authSecret?: string; dh?: string; keyid?: string; key?: string; salt?: string };
  const ece: { decrypt(buffer: Buffer, params: Params): Buffer; encrypt(buffer: Buffer, params: Params): Buffer };
  export default ece;
}
