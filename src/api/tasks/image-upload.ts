// imageUpload: data URI / base64 / http(s) URL → stored image with a UUID usable as seedImage or maskImage.
import { z } from "zod";
import type { ApiContext } from "../context.js";
import { loadImage } from "../images/image-source.js";
import { param, need } from "../runware/params.js";
import type { ResultItem } from "../task-registry.js";

const imageParam = param(z.string().min(1), {
  code: "invalidImage",
  type: "string",
  rule: "The image must be a data URI, base64 data or a publicly accessible http(s) URL of a PNG, JPG or WEBP image.",
});

export async function imageUpload(task: Record<string, unknown>, taskUUID: string, ctx: ApiContext): Promise<ResultItem> {
  const ref = need(task, "image", imageParam);
  const image = await loadImage(ref, "image", ctx.images, ctx.imageSource);
  const { uuid, fileName } = await ctx.images.put(image.bytes, image.ext);
  return { taskType: "imageUpload", taskUUID, imageUUID: uuid, imageURL: `${ctx.baseUrl()}/image/${fileName}` };
}
