// vellum's command line: one entry per command, each a thin module under cli/ loaded on demand.
export type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  tokenize: { summary: "print CLIP token ids of a prompt", load: async () => (await import("./tokenize.js")).tokenize },
  encode: { summary: "prompt → text embeddings (clipSkip) as safetensors", load: async () => (await import("./encode.js")).encode },
  generate: { summary: "an image from a model on disk: text-to-image, img2img, inpainting, clipSkip sweeps", load: async () => (await import("./generate.js")).generate },
  inspect: { summary: "what a checkpoint / LoRA / folder is: architecture, configs, dtype, prediction type", load: async () => (await import("./inspect.js")).inspect },
  models: { summary: "list the model catalog (--models DIR)", load: async () => (await import("./models.js")).models },
  serve: { summary: "run the Runware-compatible HTTP + WebSocket server", load: async () => (await import("./serve.js")).serve },
  worker: { summary: "run a generation worker for `serve --redis` (no HTTP)", load: async () => (await import("./worker.js")).worker },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return ["usage: vellum <command> [options]", "", "commands:", ...rows, "", "vellum <command> --help for a command's options"].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(`vellum: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  return (await command.load())(rest);
}
