/**
 * The k best candidates of a scan: smallest distance first, equal distances broken by the smaller
 * key (so results do not depend on storage order). A binary max-heap of size k keeps the worst kept
 * candidate on top, so most candidates cost one comparison.
 */
export class TopK {
  readonly #capacity: number;
  readonly #distance: Float64Array;
  readonly #slot: Int32Array;
  readonly #key: (slot: number) => string;
  #size = 0;

  constructor(k: number, key: (slot: number) => string) {
    this.#capacity = k;
    this.#distance = new Float64Array(k);
    this.#slot = new Int32Array(k);
    this.#key = key;
  }

  get size(): number {
    return this.#size;
  }

  /** Distance a candidate must not exceed to be kept (Infinity until k are held). */
  get bound(): number {
    return this.#size < this.#capacity ? Infinity : this.#distance[0]!;
  }

  offer(distance: number, slot: number): void {
    if (this.#capacity === 0) return;
    if (this.#size < this.#capacity) {
      this.#distance[this.#size] = distance;
      this.#slot[this.#size] = slot;
      this.#siftUp(this.#size++);
      return;
    }
    if (!this.#better(distance, slot, 0)) return;
    this.#distance[0] = distance;
    this.#slot[0] = slot;
    this.#siftDown(0);
  }

  /** The kept candidates, best first. */
  sorted(): { slot: number; distance: number }[] {
    const out: { slot: number; distance: number }[] = [];
    for (let i = 0; i < this.#size; i++) out.push({ slot: this.#slot[i]!, distance: this.#distance[i]! });
    return out.sort((a, b) => a.distance - b.distance || compareKeys(this.#key(a.slot), this.#key(b.slot)));
  }

  /** Whether (distance, slot) ranks before the entry at heap position i. */
  #better(distance: number, slot: number, i: number): boolean {
    const d = this.#distance[i]!;
    return distance < d || (distance === d && compareKeys(this.#key(slot), this.#key(this.#slot[i]!)) < 0);
  }

  #siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#better(this.#distance[parent]!, this.#slot[parent]!, i)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (left < this.#size && this.#better(this.#distance[worst]!, this.#slot[worst]!, left)) worst = left;
      if (right < this.#size && this.#better(this.#distance[worst]!, this.#slot[worst]!, right)) worst = right;
      if (worst === i) return;
      this.#swap(i, worst);
      i = worst;
    }
  }

  #swap(a: number, b: number): void {
    const d = this.#distance[a]!;
    this.#distance[a] = this.#distance[b]!;
    this.#distance[b] = d;
    const s = this.#slot[a]!;
    this.#slot[a] = this.#slot[b]!;
    this.#slot[b] = s;
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
