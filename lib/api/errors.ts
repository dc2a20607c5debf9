/**
 * A request the API refuses: the status and the plain-text message the client gets
 * (docs/api.md, "Request rules"). Anything else thrown while handling a request is our bug and
 * becomes a logged 500. The client's view of a failed call is `ApiCallError`
 * (lib/common/api-client.ts).
 */
export class ApiRefusal extends Error {
  override name = 'ApiRefusal';
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

export const BAD_AUTH = 'Bad auth';

export const badRequest = (message: string) => new ApiRefusal(400, message);
export const badAuth = () => new ApiRefusal(403, BAD_AUTH);
export const notFound = (message: string) => new ApiRefusal(404, message);
