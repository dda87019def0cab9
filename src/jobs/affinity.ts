// Model affinity with a fairness bound: which waiting job a free device (or worker) takes next. It takes the first
// job whose model is already loaded; the jobs it passes over count it, and a job passed over `maxPassOvers` times
// stops the scan, so it runs no later than FIFO order + `maxPassOvers` jobs.

export interface Waiting {
  /** AIR of the job's checkpoint. */
  readonly model: string;
  /** Times a later job was taken before this one. */
  passedOver: number;
}

/** Index of the job to take: the first held-model job before any job that reached its bound; else 0 (FIFO). */
export function pickIndex(waiting: readonly Waiting[], held: readonly string[], maxPassOvers: number): number {
  if (held.length === 0) return 0;
  for (let i = 0; i < waiting.length; i++) {
    const job = waiting[i]!;
    if (held.includes(job.model)) return i;
    if (job.passedOver >= maxPassOvers) return 0;
  }
  return 0;
}

/** Removes and returns the job to run next (undefined when none waits), counting the jobs it passed over. */
export function pickNext<T extends Waiting>(waiting: T[], held: readonly string[], maxPassOvers: number): T | undefined {
  if (waiting.length === 0) return undefined;
  const i = pickIndex(waiting, held, maxPassOvers);
  for (let k = 0; k < i; k++) waiting[k]!.passedOver++;
  return waiting.splice(i, 1)[0];
}
