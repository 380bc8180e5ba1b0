/** An answer with an HTTP status: auth and routes throw it, the router writes it. Its own module so neither imports the other for it. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
