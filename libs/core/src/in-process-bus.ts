import type { Logger } from './logger.js';
import type { EventBus, EventMap, SubscribeOptions, Subscription, Topic } from './events.js';

interface Group {
  handlers: { run: (event: unknown) => Promise<void>; concurrency: number; active: number; closed: boolean }[];
  queue: unknown[];
  next: number;
}

/**
 * The embedded profile's bus: events stay in the process. Each consumer group receives every
 * event once (round-robin over its handlers), with bounded concurrency per handler; events wait in
 * memory meanwhile. Durability comes from the edges (inbox files stay until processed), not from
 * this bus.
 */
export class InProcessBus implements EventBus {
  private readonly topics = new Map<string, Map<string, Group>>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log?: Logger) {}

  async publish<T extends Topic>(topic: T, _key: string, event: EventMap[T]): Promise<void> {
    for (const group of this.topics.get(topic)?.values() ?? []) {
      group.queue.push(event);
      this.pump(group);
    }
  }

  async subscribe<T extends Topic>(topic: T, options: SubscribeOptions, handler: (event: EventMap[T]) => Promise<void>): Promise<Subscription> {
    let groups = this.topics.get(topic);
    if (!groups) this.topics.set(topic, (groups = new Map()));
    let group = groups.get(options.group);
    if (!group) groups.set(options.group, (group = { handlers: [], queue: [], next: 0 }));
    const entry = { run: handler as (event: unknown) => Promise<void>, concurrency: options.concurrency ?? 1, active: 0, closed: false };
    group.handlers.push(entry);
    const g = group;
    const byGroup = groups;
    return {
      close: async () => {
        entry.closed = true;
        g.handlers.splice(g.handlers.indexOf(entry), 1);
        // an in-process group without members would only pile up events nobody can take
        if (g.handlers.length === 0 && byGroup.get(options.group) === g) byGroup.delete(options.group);
        while (entry.active > 0) await Promise.race(this.running);
      },
    };
  }

  /** Waits until every queued event has been handled (tests, shutdown). */
  async drain(): Promise<void> {
    for (;;) {
      const pending = [...this.topics.values()].some((gs) => [...gs.values()].some((g) => g.queue.length > 0 && g.handlers.length > 0));
      if (!pending && this.running.size === 0) return;
      if (this.running.size > 0) await Promise.race(this.running);
      else await new Promise((r) => setImmediate(r));
    }
  }

  async close(): Promise<void> {
    await this.drain();
    this.topics.clear();
  }

  private pump(group: Group): void {
    while (group.queue.length > 0) {
      const free = group.handlers.filter((h) => !h.closed && h.active < h.concurrency);
      if (free.length === 0) return;
      const handler = free[group.next++ % free.length]!;
      const event = group.queue.shift();
      handler.active++;
      const run: Promise<void> = handler
        .run(event)
        .catch((err: unknown) => this.log?.error({ err }, 'event handler failed'))
        .finally(() => {
          handler.active--;
          this.running.delete(run);
          this.pump(group);
        });
      this.running.add(run);
    }
  }
}
