/**
 * Progress of long work: a bar redrawn in place on a terminal (stderr), plain lines at every tenth
 * of the way otherwise (logs, pipes), nothing at all when quiet. stdout stays free for results.
 */
export class Progress {
  private done = 0;
  private lastTenth = -1;
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.tty = out.isTTY === true;
    this.draw();
  }

  tick(n = 1): void {
    this.done = Math.min(this.total, this.done + n);
    this.draw();
  }

  /** Moves the bar to `done` (work that reports where it is rather than each step). */
  set(done: number): void {
    this.done = Math.max(0, Math.min(this.total, done));
    this.draw();
  }

  /** Ends the bar's line (terminal) or prints the last plain line. */
  finish(summary?: string): void {
    if (this.quiet) return;
    const text = `${this.label}: ${this.done}/${this.total} in ${elapsed(Date.now() - this.started)}${summary ? ` — ${summary}` : ''}`;
    this.out.write(this.tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }

  private draw(): void {
    if (this.quiet || this.total === 0) return;
    if (this.tty) {
      const width = 30;
      const filled = Math.round((this.done / this.total) * width);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      this.out.write(`\r\x1b[2K${this.label} [${bar}] ${this.done}/${this.total} ${elapsed(Date.now() - this.started)}`);
      return;
    }
    const tenth = Math.floor((this.done / this.total) * 10);
    if (tenth > this.lastTenth && this.done < this.total) {
      this.lastTenth = tenth;
      this.out.write(`${this.label}: ${this.done}/${this.total}\n`);
    }
  }
}

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
