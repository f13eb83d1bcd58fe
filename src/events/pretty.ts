import type { PodEvent } from "./schema.js";
import type { EventWriter } from "./sink.js";

/**
 * A readable rendering of the event stream for a person at a terminal:
 * assistant text as it streams, one line per tool call, a closing summary.
 */
export function prettyWriter(out: NodeJS.WriteStream = process.stdout): EventWriter {
  const write = (s: string) => out.write(s);
  let midText = false;
  return (e: PodEvent) => {
    if (e.type !== "text_delta" && midText) {
      write("\n");
      midText = false;
    }
    switch (e.type) {
      case "run_start":
        write(`▶ ${e.pod} (${e.mode}, ${e.model})\n`);
        break;
      case "text_delta":
        write(e.text);
        midText = true;
        break;
      case "tool_call_done":
        write(`  ⚙ ${e.name} ${JSON.stringify(e.input).slice(0, 120)}\n`);
        break;
      case "tool_result":
        write(`    ${e.is_error ? "✗" : "✓"} ${e.output.split("\n")[0]!.slice(0, 120)}\n`);
        break;
      case "state_repaired":
        write(`! ${e.message}\n`);
        break;
      case "compaction":
        write(`~ compacted ${e.tokens_before} → ${e.tokens_after} tokens\n`);
        break;
      case "error":
        write(`✗ ${e.code}: ${e.message}\n`);
        break;
      case "run_end":
        write(`■ ${e.result} · ${e.turns} turns · ${e.usage.input_tokens} in / ${e.usage.output_tokens} out · ${(e.duration_ms / 1000).toFixed(1)}s\n`);
        break;
      default:
        break;
    }
  };
}
