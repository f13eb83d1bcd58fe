/**
 * A spinner with an elapsed timer on stderr while pod waits for the model. Only on
 * a terminal: in CI logs it would be noise, so there it does nothing at all.
 */
export class Spinner {
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private frame = 0;
  private static readonly FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly enabled = out.isTTY === true,
  ) {}

  start(label: string): void {
    if (!this.enabled || this.timer) return;
    this.started = Date.now();
    const draw = () => {
      const secs = ((Date.now() - this.started) / 1000).toFixed(1);
      this.out.write(`\r${Spinner.FRAMES[this.frame++ % Spinner.FRAMES.length]} ${label} ${secs}s\x1b[K`);
    };
    draw();
    this.timer = setInterval(draw, 100);
    this.timer.unref();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.out.write("\r\x1b[K");
  }
}
