/**
 * Creates an element with attributes and text. Text always goes through `textContent`, so
 * user data can never become markup; the pages use no `innerHTML` at all.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The element with this `data-testid` (the pages' stable hooks, shared with the tests). */
export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.querySelector<T>(`[data-testid="${id}"]`);
  if (node === null) throw new Error(`page is missing [data-testid="${id}"]`);
  return node;
}

/** Shows or hides an element (the `hidden` attribute, styled in style.css). */
export function show(node: HTMLElement, visible: boolean): void {
  node.hidden = !visible;
}
