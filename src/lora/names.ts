// Which canonical weight a LoRA module patches. A table per model: every `<module>.weight` of each component
// under the spellings LoRA trainers use — kohya (`lora_unet_` + dots→underscores, from diffusers-structured or
// LDM-structured UNet names; `lora_te_`, `lora_te1_`, `lora_te2_`), diffusers/PEFT (`unet.<module>`,
// `text_encoder.<module>`, `text_encoder_2.<module>`), and old attention-processor names (`…attn1.processor.to_q`).
import { diffusersToLdmUnet } from "../checkpoint/keymap/unet.js";
import type { PipelineModel } from "../checkpoint/model.js";

export type ComponentName = "unet" | "textEncoder" | "textEncoder2";

export interface Target {
  readonly component: ComponentName;
  /** Canonical weight name (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight`). */
  readonly weight: string;
}

const underscored = (s: string): string => s.replace(/\./g, "_");

/** Old diffusers attention-processor / text-encoder LoRA spellings → module paths. */
function normaliseDiffusersStem(stem: string): string {
  return stem
    .replace(/\.processor\./, ".")
    .replace(/\.to_out_lora$|\.to_out$/, ".to_out.0")
    .replace(/\.(to_[qkv])_lora$/, ".$1")
    .replace(/self_attn\.to_([qkv])(_lora)?$/, "self_attn.$1_proj")
    .replace(/self_attn\.to_out(_lora)?(\.0)?$/, "self_attn.out_proj");
}

export class TargetTable {
  private readonly table = new Map<string, Target>();

  constructor(model: PipelineModel) {
    const te1 = model.family === "sdxl" ? ["lora_te1_", "lora_te_"] : ["lora_te_", "lora_te1_"];
    const parts: [ComponentName, string[], string][] = [
      ["unet", ["lora_unet_"], "unet."],
      ["textEncoder", te1, "text_encoder."],
      ["textEncoder2", model.family === "sdxl-refiner" ? ["lora_te2_", "lora_te1_", "lora_te_"] : ["lora_te2_"], "text_encoder_2."],
    ];
    const lpb = Number(model.unet?.config["layers_per_block"] ?? 2);
    const upTypes = (model.unet?.config["up_block_types"] as string[] | undefined) ?? [];
    const layout = { layersPerBlock: lpb, upAttention: upTypes.map((t) => t.startsWith("CrossAttn")) };
    for (const [component, kohya, dotted] of parts) {
      const c = model[component];
      if (c === undefined) continue;
      for (const weight of c.weights.names()) {
        if (!weight.endsWith(".weight")) continue;
        const module = weight.slice(0, -".weight".length);
        const target = { component, weight };
        for (const p of kohya) this.add(p + underscored(module), target);
        this.add(dotted + module, target);
        if (component === "unet") {
          const ldm = diffusersToLdmUnet(weight, layout);
          if (ldm !== undefined) this.add(`lora_unet_${underscored(ldm.slice(0, -".weight".length))}`, target);
        }
      }
    }
  }

  private add(key: string, target: Target): void {
    if (!this.table.has(key)) this.table.set(key, target);
  }

  resolve(stem: string): Target | undefined {
    const direct = this.table.get(stem) ?? this.table.get(normaliseDiffusersStem(stem));
    if (direct !== undefined) return direct;
    // PEFT files saved from a bare UNet / text encoder carry no component prefix; `base_model.model.` wrappers too.
    const bare = stem.replace(/^base_model\.model\./, "");
    for (const p of ["unet.", "text_encoder.", "text_encoder_2."]) {
      const t = this.table.get(p + bare) ?? this.table.get(p + normaliseDiffusersStem(bare));
      if (t !== undefined) return t;
    }
    return undefined;
  }
}
