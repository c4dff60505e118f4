/** Every error the API returns. The code is the `error.code` of API.md's error body. */
export type AppErrorCode =
  | "bad_request"
  | "invalid_json"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "validation_failed"
  | "unknown_type"
  | "resync_required"
  | "rate_limited"
  | "internal_error"
  | "unavailable";

export const statusByCode: Record<AppErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  resync_required: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  unknown_type: 422,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
};

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;

  constructor(code: AppErrorCode, message: string, options: { details?: unknown; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.details = options.details;
    this.headers = options.headers;
  }

  get status(): number {
    return statusByCode[this.code];
  }

  toBody(): { error: { code: AppErrorCode; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}
