import { StringDecoder } from "node:string_decoder";

/**
 * Collects a command's output (stdout and stderr interleaved) within an exact
 * budget of characters: everything when it fits in `cap`; otherwise the first
 * cap/2 and the last cap/2 characters, with a marker line between them saying how
 * many were dropped. Memory stays O(cap) however much the command prints.
 */
export class CappedOutput {
  private readonly decoder = new StringDecoder("utf8");
  private head = "";
  private tail: string[] = [];
  private tailLen = 0;
  private total = 0;
  private readonly half: number;

  constructor(private readonly cap: number) {
    this.half = Math.floor(cap / 2);
  }

  write(chunk: Buffer): void {
    this.add(this.decoder.write(chunk));
  }

  private add(text: string): void {
    if (!text) return;
    this.total += text.length;
    if (this.head.length < this.cap) {
      const room = this.cap - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
      if (!text) return;
    }
    this.tail.push(text);
    this.tailLen += text.length;
    // Keep at most `cap` characters after the head's first half; trim whole pieces, then the front of one.
    while (this.tailLen - this.tail[0]!.length >= this.cap) this.tailLen -= this.tail.shift()!.length;
    if (this.tailLen > this.cap) {
      this.tail[0] = this.tail[0]!.slice(this.tailLen - this.cap);
      this.tailLen = this.cap;
    }
  }

  /** The output as the model sees it, and whether characters were dropped. */
  finish(): { text: string; truncated: boolean; total: number } {
    this.add(this.decoder.end());
    if (this.total <= this.cap) return { text: this.head + this.tail.join(""), truncated: false, total: this.total };
    // Over the cap: the first half of the head, and the last `half` characters seen.
    const all = this.head + this.tail.join("");
    const end = all.slice(all.length - (this.cap - this.half));
    const start = this.head.slice(0, this.half);
    const dropped = this.total - start.length - end.length;
    return { text: `${start}\n[… ${dropped} characters of output omitted: the first ${start.length} and the last ${end.length} of ${this.total} are shown …]\n${end}`, truncated: true, total: this.total };
  }
}
