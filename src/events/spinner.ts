/**
 * A spinner with an elapsed timer on stderr while pod waits: for the model, or for a
 * tool that runs long. Only on a terminal: in CI logs it would be noise, so there it
 * does nothing at all. One line, redrawn in place; cleared before anything else prints.
 */
export class Spinner {
  private timer: NodeJS.Timeout | undefined;
  private delay: NodeJS.Timeout | undefined;
  private shown = false;
  private frame = 0;
  private static readonly FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly enabled = out.isTTY === true,
  ) {}

  /**
   * Shows `label` with the time since `since`, from `afterMs` on (a tool that answers
   * at once never flickers a spinner). A spinner already running is replaced.
   */
  start(label: string, opts: { since?: number; afterMs?: number } = {}): void {
    if (!this.enabled) return;
    this.stop();
    const since = opts.since ?? Date.now();
    const draw = () => {
      const secs = ((Date.now() - since) / 1000).toFixed(1);
      this.shown = true;
      this.out.write(`\r${Spinner.FRAMES[this.frame++ % Spinner.FRAMES.length]} ${label} ${secs}s\x1b[K`);
    };
    const begin = () => {
      this.delay = undefined;
      draw();
      this.timer = setInterval(draw, 100);
      this.timer.unref();
    };
    const wait = (opts.afterMs ?? 0) - (Date.now() - since);
    if (wait > 0) {
      this.delay = setTimeout(begin, wait);
      this.delay.unref();
    } else begin();
  }

  get running(): boolean {
    return this.timer !== undefined || this.delay !== undefined;
  }

  stop(): void {
    if (this.delay) clearTimeout(this.delay);
    if (this.timer) clearInterval(this.timer);
    this.delay = this.timer = undefined;
    if (this.shown) this.out.write("\r\x1b[K");
    this.shown = false;
  }
}
