/** Thrown inside a guest program to stop it: a failed guest assertion or an abort(). */
export class GuestAbort extends Error {}
