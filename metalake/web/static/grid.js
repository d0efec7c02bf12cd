// A virtualised grid of tiles over a keyset-paged list: only the rows on screen (and a screen's
// margin) are in the DOM; pages are fetched one after another with the previous page's cursor
// as the user nears the end of what is loaded.

const GAP = 6;
const MARGIN_SCREENS = 1;
const SETTLE_MS = 120;
/** While the grid moves more than this share of a screen a frame, new tiles are drawn bare
 * (no thumbnail request, no shapes) and filled once scrolling settles: a fling past thousands of
 * files then costs neither their thumbnails nor their decoding. Tiles in the margin beyond the
 * screen are filled only once scrolling settles, and a tile that leaves cancels its thumbnail. */
const FAST_SHARE = 0.5;
const PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
/** Once the count is known, the grid is this many files taller than what is loaded (never past
 * the count), so a fling can go that far ahead and fetch it in large pages. */
const AHEAD = 10_000;

export class Grid {
  /**
   * @param {HTMLElement} scroller the scrolling element
   * @param {{fetchPage: Function, renderTile: Function, onAnchor?: Function}} hooks
   */
  constructor(scroller, { fetchPage, renderTile, onAnchor, onError }) {
    this.scroller = scroller;
    this.fetchPage = fetchPage;
    this.renderTile = renderTile;
    this.onAnchor = onAnchor || (() => {});
    this.onError = onError || (() => {});
    this.spacer = document.createElement("div");
    this.spacer.className = "grid-spacer";
    scroller.append(this.spacer);
    this.tileSize = 180;
    this.tiles = new Map();
    this.frame = 0;
    this.lastTop = 0;
    this.settle = 0;
    scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.redraw()).observe(scroller);
    this.reset(null);
  }

  /** Start over from `cursor` (null: from the first item), scrolled down to the item
   * `offset` places after it once its page is loaded. */
  reset(cursor, offset = 0) {
    this.generation = (this.generation || 0) + 1;
    this.items = [];
    this.pageStarts = [];
    this.nextCursor = cursor;
    this.done = false;
    this.loading = null;
    this.error = null;
    this.pendingOffset = offset;
    this.total = null;
    this.scroller.scrollTop = 0;
    this.redraw();
  }

  /** Try again after a page failed to load. */
  retry() {
    this.error = null;
    this.onError(null);
    this.schedule();
  }

  /** The number of files the grid shows in all (its count), when known. */
  setTotal(total) {
    this.total = total;
    this.schedule();
  }

  setTileSize(size) {
    this.tileSize = size;
    this.redraw();
  }

  /** Throw away the drawn tiles and draw again (after a size or filter change). */
  redraw() {
    this.tiles.forEach((tile) => tile.remove());
    this.tiles.clear();
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  layout() {
    const width = this.scroller.clientWidth - GAP;
    const columns = Math.max(1, Math.floor(width / (this.tileSize + GAP)));
    const size = Math.floor(width / columns) - GAP;
    return { columns, size, row: size + GAP };
  }

  render() {
    this.frame = 0;
    const { columns, size, row } = this.layout();
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight;
    const margin = height * MARGIN_SCREENS;
    const firstRow = Math.max(0, Math.floor((top - margin) / row));
    const lastRow = Math.ceil((top + height + margin) / row);
    this.sizeSpacer(columns, row);
    const first = firstRow * columns;
    const last = Math.min(this.items.length, (lastRow + 1) * columns);
    const fast = Math.abs(top - this.lastTop) > height * FAST_SHARE;
    this.lastTop = top;
    for (const [index, tile] of this.tiles) {
      if (index < first || index >= last) {
        if (tile.release) tile.release();
        tile.remove();
        this.tiles.delete(index);
      }
    }
    const shownFirst = Math.floor(top / row) * columns;
    const shownLast = Math.ceil((top + height) / row) * columns;
    for (let index = first; index < last; index += 1) {
      if (this.tiles.has(index)) continue;
      const tile = this.renderTile(this.items[index], index, size);
      tile.style.transform = `translate(${GAP + (index % columns) * row}px, ${GAP + Math.floor(index / columns) * row}px)`;
      tile.style.width = tile.style.height = `${size}px`;
      this.spacer.append(tile);
      this.tiles.set(index, tile);
      if (!fast && tile.fill && index >= shownFirst && index < shownLast) tile.fill();
    }
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.fillAll(), SETTLE_MS);
    const wanted = (lastRow + 1) * columns;
    if (!this.done && wanted > this.items.length) this.loadMore(wanted - this.items.length);
    if (!this.pendingOffset) this.anchor(Math.floor(top / row) * columns);
  }

  sizeSpacer(columns, row) {
    const loaded = this.items.length;
    const shown = this.done
      ? loaded
      : Math.max(loaded + columns, Math.min(this.total ?? 0, loaded + AHEAD));
    this.spacer.style.height = `${Math.ceil(shown / columns) * row + GAP}px`;
  }

  /** Tell the page where the first visible tile is (for the URL): the cursor of its page
   * and its place after that cursor. */
  anchor(index) {
    if (!this.pageStarts.length) return;
    let start = this.pageStarts[0];
    for (const page of this.pageStarts) {
      if (page.index <= index) start = page;
      else break;
    }
    const offset = Math.max(0, index - start.index);
    if (start.cursor !== this.lastAnchor || offset !== this.lastOffset) {
      this.lastAnchor = start.cursor;
      this.lastOffset = offset;
      this.onAnchor(start.cursor, offset);
    }
  }

  /** Fetch the next page: of 100 files, or as many as the screen is short of (a fling far past
   * what is loaded), up to 1000, so that a long scroll needs few requests one after another. */
  loadMore(short = PAGE_SIZE) {
    if (this.loading || this.done || this.error) return this.loading;
    const generation = this.generation;
    const cursor = this.nextCursor;
    const size = Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, short));
    this.loading = this.fetchPage(cursor, size)
      .then((page) => {
        if (generation !== this.generation) return;
        this.pageStarts.push({ index: this.items.length, cursor });
        this.items.push(...page.items);
        this.nextCursor = page.next_cursor;
        this.done = page.next_cursor == null;
        if (this.pendingOffset) {
          const { columns, row } = this.layout();
          this.sizeSpacer(columns, row);
          this.scroller.scrollTop = Math.floor(Math.min(this.pendingOffset, this.items.length - 1) / columns) * row;
          this.pendingOffset = 0;
        }
      })
      .catch((error) => {
        if (generation !== this.generation) return;
        this.error = error;
        this.onError(error);
      })
      .finally(() => {
        if (generation !== this.generation) return;
        this.loading = null;
        this.schedule();
      });
    return this.loading;
  }

  /** Fill the tiles drawn bare while scrolling fast. */
  fillAll() {
    for (const tile of this.tiles.values()) if (tile.fill) tile.fill();
  }

  /** Redraw the tiles on screen in place (selection or shape filter changed). */
  refresh() {
    const { size } = this.layout();
    for (const [index, tile] of this.tiles) {
      const fresh = this.renderTile(this.items[index], index, size);
      fresh.style.cssText = tile.style.cssText;
      tile.replaceWith(fresh);
      this.tiles.set(index, fresh);
      if (fresh.fill) fresh.fill();
    }
  }
}
