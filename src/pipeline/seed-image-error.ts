// The typed refusal of an img2img / inpainting request: `code` is the Runware error code the API forwards,
// `parameter` the request field at fault.
export type SeedImageErrorCode = "invalidSeedImage" | "invalidMaskImage" | "invalidStrength";

const PARAMETER: Record<SeedImageErrorCode, string> = {
  invalidSeedImage: "seedImage",
  invalidMaskImage: "maskImage",
  invalidStrength: "strength",
};

export class SeedImageError extends Error {
  override readonly name = "SeedImageError";
  readonly parameter: string;
  constructor(
    readonly code: SeedImageErrorCode,
    message: string,
  ) {
    super(message);
    this.parameter = PARAMETER[code];
  }
}
