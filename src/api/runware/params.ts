// One validated request field: a zod schema plus the Runware error it produces ("Invalid value for X parameter. …").
import { z } from "zod";
import { ApiError, type ErrorCode } from "../errors.js";

export interface Param<T> {
  readonly schema: z.ZodType<T>;
  readonly code: ErrorCode;
  readonly type: string;
  readonly rule: string;
  readonly min?: number;
  readonly max?: number;
}

export function param<T>(schema: z.ZodType<T>, meta: Omit<Param<T>, "schema">): Param<T> {
  return { schema, ...meta };
}

function capitalise(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

export function invalid(name: string, p: Pick<Param<unknown>, "code" | "type" | "rule" | "min" | "max">): ApiError {
  const details = { parameter: name, type: p.type, ...(p.min !== undefined ? { min: p.min } : {}), ...(p.max !== undefined ? { max: p.max } : {}) };
  return new ApiError(p.code, `Invalid value for ${name} parameter. ${p.rule}`, details);
}

/** Reads `task[name]`: undefined when absent (or null), the parsed value when valid, else throws the field's ApiError. */
export function read<T>(task: Record<string, unknown>, name: string, p: Param<T>): T | undefined {
  const raw = task[name];
  if (raw === undefined || raw === null) return undefined;
  const r = p.schema.safeParse(raw);
  if (!r.success) throw invalid(name, p);
  return r.data;
}

/** Like `read`, but a missing value is a `missing<Name>` error. */
export function need<T>(task: Record<string, unknown>, name: string, p: Param<T>): T {
  const v = read(task, name, p);
  if (v === undefined) {
    throw new ApiError(`missing${capitalise(name)}`, `Missing ${name} parameter. ${p.rule}`, { parameter: name, type: p.type });
  }
  return v;
}

export const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const taskUUIDParam = param(z.string().regex(UUID_RE), {
  code: "invalidTaskUUID",
  type: "string",
  rule: "The task UUID must be a UUID v4 string.",
});
