/**
 * A request the API refuses: the status and the plain-text message the client gets
 * (docs/api.md, "Request rules"). Anything else thrown while handling a request is our bug and
 * becomes a logged 500.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

export const BAD_AUTH = 'Bad auth';

export const badRequest = (message: string) => new ApiError(400, message);
export const badAuth = () => new ApiError(403, BAD_AUTH);
export const notFound = (message: string) => new ApiError(404, message);
