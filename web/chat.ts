// The chat page (`/`): log in, pick a contact, read the conversation over REST, send over
// the WebSocket, and apply the server's new/updated/deleted events as they come.
import {
  ChatApiError,
  ChatClient,
  newIdempotencyKey,
  type Message,
  type MessageEventFrame,
  type MessageSendFrame,
  type RealtimeConnection,
  type ServerFrame,
  type User,
} from '../client/index.js';
import { byTestId, el, show } from './dom.js';
import type { Session } from './session.js';
import { mountSignedInPage } from './signed-in-page.js';

function timeOf(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? ''
    : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Only http(s) links are made clickable: a `javascript:` URL from another user must not run. */
function safeHttpUrl(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Events of the open conversation that arrive while it is loading wait here. */
type ConversationFrame = MessageEventFrame;

/** One logged-in session of the page; {@link ChatPage.stop} ends it (log out). */
class ChatPage {
  private readonly api: ChatClient;
  private readonly rt: RealtimeConnection;
  private readonly me: User;
  private contacts = new Map<string, User>();
  private readonly unread = new Map<string, number>();
  /** The contact whose conversation is shown. */
  private current: string | null = null;
  /** Bumped on every conversation switch, so a slow load for an old one is dropped. */
  private loadSeq = 0;
  /** Frames for the open conversation received while it loads; null when not loading. */
  private buffered: ConversationFrame[] | null = null;
  /** Rendered messages of the open conversation, by id. */
  private readonly rendered = new Map<string, HTMLLIElement>();
  /** Sent, not yet acknowledged messages, by clientMsgId. */
  private readonly pending = new Map<string, { li: HTMLLIElement; frame: SendFrame }>();
  /** Ids deleted during this session: a late load must not bring them back. */
  private readonly deleted = new Set<string>();
  private everOpened = false;

  private readonly list = byTestId<HTMLOListElement>('messages');
  private readonly error = byTestId('chat-error');
  private readonly compose = byTestId<HTMLFormElement>('compose');
  private readonly input = byTestId<HTMLInputElement>('compose-input');
  private readonly abort = new AbortController();

  constructor(
    session: Session,
    private readonly onLoggedOut: (notice: string) => void,
  ) {
    this.me = session.user;
    this.api = new ChatClient({ baseUrl: location.origin, token: session.token });
    this.rt = this.api.realtime();
    this.rt.on('frame', (frame) => this.onFrame(frame));
    this.rt.on('connecting', () => this.onStatus('connecting'));
    this.rt.on('open', () => this.onStatus('open'));
    this.rt.on('close', (info) => {
      this.onStatus('closed');
      // The socket was refused and the API refuses the token too: it has expired.
      if (info.unauthorized) this.onLoggedOut('Your session has expired; log in again.');
    });
  }

  start(): void {
    byTestId('current-user').textContent = this.me.username;
    const signal = this.abort.signal;
    this.compose.addEventListener('submit', (e) => this.onSubmit(e), { signal });
    byTestId('contacts-refresh').addEventListener('click', () => void this.loadContacts(), {
      signal,
    });
    this.setComposeEnabled(false);
    this.rt.connect();
    void this.loadContacts();
  }

  stop(): void {
    this.abort.abort();
    this.rt.close();
    this.list.replaceChildren();
    byTestId('contacts').replaceChildren();
    byTestId('conversation-title').textContent = 'Pick a contact';
    show(byTestId('cache-status'), false);
    this.error.textContent = '';
  }

  // ---- contacts ----

  private async loadContacts(): Promise<void> {
    let users: User[];
    try {
      users = await this.api.users();
    } catch (err) {
      this.onApiError(err);
      return;
    }
    this.contacts = new Map(users.map((u) => [u.id, u]));
    this.renderContacts();
  }

  private renderContacts(): void {
    const items = [...this.contacts.values()]
      .sort((a, b) => a.username.localeCompare(b.username))
      .map((user) => {
        const button = el('button', {
          type: 'button',
          class: 'contact',
          'data-testid': 'contact',
          'data-user-id': user.id,
          'data-username': user.username,
        });
        if (user.id === this.current) button.classList.add('active');
        const count = this.unread.get(user.id) ?? 0;
        const badge = el('span', { class: 'badge', 'data-testid': 'unread-count' }, String(count));
        show(badge, count > 0);
        button.append(el('span', { class: 'name' }, user.username), badge);
        button.addEventListener('click', () => void this.openConversation(user.id));
        const li = el('li');
        li.append(button);
        return li;
      });
    byTestId('contacts').replaceChildren(...items);
    show(byTestId('contacts-empty'), items.length === 0);
  }

  // ---- conversation ----

  private async openConversation(userId: string): Promise<void> {
    const seq = ++this.loadSeq;
    this.current = userId;
    this.buffered = [];
    this.unread.delete(userId);
    this.renderContacts();
    this.error.textContent = '';
    byTestId('conversation-title').textContent = this.contacts.get(userId)?.username ?? '…';
    this.setComposeEnabled(true);
    this.input.focus();

    let messages: Message[];
    let cache: string | null;
    try {
      ({ messages, cache } = await this.api.conversation(userId));
    } catch (err) {
      if (seq === this.loadSeq) this.buffered = null;
      this.onApiError(err);
      return;
    }
    if (seq !== this.loadSeq) return;

    const badge = byTestId('cache-status');
    badge.textContent = cache === null ? '' : `cache ${cache}`;
    badge.title = 'X-Cache: whether this conversation came from Redis (HIT) or MongoDB (MISS)';
    show(badge, cache !== null);

    this.rendered.clear();
    this.list.replaceChildren();
    for (const m of messages) if (!this.deleted.has(m.id)) this.upsert(m);
    // Messages still waiting for their ack stay visible at the end.
    for (const { li, frame } of this.pending.values()) {
      if (frame.receiverId === userId) this.list.append(li);
    }
    const waiting = this.buffered ?? [];
    this.buffered = null;
    for (const frame of waiting) this.applyConversationFrame(frame);
    this.scrollToEnd(true);
  }

  /** The other party of a message, seen from this user. */
  private partnerOf(m: Pick<Message, 'senderId' | 'receiverId'>): string {
    return m.senderId === this.me.id ? m.receiverId : m.senderId;
  }

  /** Adds or refreshes a message of the open conversation, keeping createdAt order. */
  private upsert(m: Message): void {
    const existing = this.rendered.get(m.id);
    if (existing) {
      this.fill(existing, m);
      return;
    }
    const li = this.renderMessage(m);
    this.rendered.set(m.id, li);
    this.insertInOrder(li);
  }

  private insertInOrder(li: HTMLLIElement): void {
    const at = li.dataset.createdAt ?? '';
    let before: Element | null = null;
    // New messages almost always belong at the end: walk back from there.
    for (let node = this.list.lastElementChild; node; node = node.previousElementSibling) {
      const other = (node as HTMLElement).dataset;
      if (other.pending === 'true' || (other.createdAt ?? '') > at) before = node;
      else break;
    }
    this.list.insertBefore(li, before);
  }

  private renderMessage(m: Message): HTMLLIElement {
    const mine = m.senderId === this.me.id;
    const li = el('li', {
      class: mine ? 'message mine' : 'message',
      'data-testid': 'message',
      'data-mine': String(mine),
    });
    const bubble = el('div', { class: 'bubble' });
    const content = el('p', { class: 'content', 'data-testid': 'message-content' });
    const meta = el('div', { class: 'meta' });
    const time = el('time', { 'data-testid': 'message-time' });
    const edited = el('span', { class: 'edited', 'data-testid': 'message-edited' }, 'edited');
    const state = el('span', { class: 'state', 'data-testid': 'message-state' });
    meta.append(time, edited, state);
    if (mine) {
      const edit = el('button', { type: 'button', 'data-testid': 'message-edit' }, 'Edit');
      const del = el('button', { type: 'button', 'data-testid': 'message-delete' }, 'Delete');
      edit.addEventListener('click', () => this.beginEdit(li));
      del.addEventListener('click', () => void this.deleteMessage(li));
      meta.append(edit, del);
    }
    bubble.append(content, meta);
    li.append(bubble);
    this.fill(li, m);
    return li;
  }

  /** Writes a message's data into its element (also after an edit event). */
  private fill(li: HTMLLIElement, m: Message): void {
    li.dataset.messageId = m.id;
    li.dataset.createdAt = m.createdAt;
    delete li.dataset.pending;
    delete li.dataset.failed;
    const content = li.querySelector<HTMLElement>('[data-testid="message-content"]');
    if (content) content.textContent = m.content ?? '';
    li.querySelector('[data-testid="message-image"]')?.remove();
    const href = m.imageUrl === null ? null : safeHttpUrl(m.imageUrl);
    if (href !== null && content) {
      const link = el(
        'a',
        { href, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'message-image' },
        'image',
      );
      content.after(link);
    }
    const time = li.querySelector<HTMLTimeElement>('[data-testid="message-time"]');
    if (time) {
      time.dateTime = m.createdAt;
      time.textContent = timeOf(m.createdAt);
    }
    const edited = li.querySelector<HTMLElement>('[data-testid="message-edited"]');
    if (edited) {
      show(edited, m.updatedAt !== undefined);
      if (m.updatedAt) edited.title = `edited ${new Date(m.updatedAt).toLocaleString()}`;
    }
    this.setState(li, '');
  }

  private setState(li: HTMLLIElement, text: string): void {
    const state = li.querySelector<HTMLElement>('[data-testid="message-state"]');
    if (state) state.textContent = text;
  }

  private removeMessage(id: string): void {
    this.deleted.add(id);
    this.rendered.get(id)?.remove();
    this.rendered.delete(id);
  }

  // ---- sending ----

  private onSubmit(event: SubmitEvent): void {
    event.preventDefault();
    const content = this.input.value.trim();
    if (content === '' || this.current === null) return;
    const frame: SendFrame = {
      type: 'message:send',
      receiverId: this.current,
      content,
      clientMsgId: newIdempotencyKey(),
    };
    if (!this.rt.send({ ...frame })) {
      // Keep the text: nothing was sent.
      this.error.textContent = 'Not connected; reconnecting… try again in a moment.';
      return;
    }
    this.error.textContent = '';
    this.input.value = '';
    const li = this.renderMessage({
      id: '',
      senderId: this.me.id,
      receiverId: frame.receiverId,
      content,
      imageUrl: null,
      publicId: null,
      createdAt: new Date().toISOString(),
    });
    delete li.dataset.messageId;
    li.dataset.pending = 'true';
    li.dataset.clientMsgId = frame.clientMsgId;
    this.setState(li, 'sending…');
    this.pending.set(frame.clientMsgId, { li, frame });
    this.list.append(li);
    this.scrollToEnd(true);
  }

  private onAck(clientMsgId: string | undefined, m: Message, persisted: boolean): void {
    const entry = clientMsgId === undefined ? undefined : this.pending.get(clientMsgId);
    if (clientMsgId !== undefined) this.pending.delete(clientMsgId);
    if (entry === undefined) {
      if (this.partnerOf(m) === this.current && this.buffered === null) this.upsert(m);
      return;
    }
    if (this.rendered.has(m.id) || this.deleted.has(m.id)) {
      // The message:new event for it came first and is already shown.
      entry.li.remove();
      return;
    }
    if (!entry.li.isConnected) return; // sent in a conversation no longer open
    entry.li.remove();
    this.fill(entry.li, m);
    this.rendered.set(m.id, entry.li);
    this.insertInOrder(entry.li);
    // write-behind: stored in Redis, MongoDB gets it when the cache entry expires.
    if (!persisted) entry.li.title = 'Cached; saved to the database shortly';
  }

  private onSendError(clientMsgId: string | undefined, code: string, message: string): void {
    const entry = clientMsgId === undefined ? undefined : this.pending.get(clientMsgId);
    if (entry) {
      this.pending.delete(clientMsgId as string);
      entry.li.dataset.failed = 'true';
      delete entry.li.dataset.pending;
      this.setState(entry.li, 'not sent');
    }
    this.error.textContent =
      code === 'RATE_LIMITED' ? 'Slow down: too many messages. Try again shortly.' : message;
  }

  // ---- edit and delete ----

  private beginEdit(li: HTMLLIElement): void {
    const id = li.dataset.messageId;
    if (id === undefined || li.querySelector('form')) return;
    const content = li.querySelector<HTMLElement>('[data-testid="message-content"]');
    if (!content) return;
    const form = el('form', { class: 'edit', 'data-testid': 'edit-form' });
    const input = el('input', {
      'data-testid': 'edit-input',
      name: 'content',
      maxlength: '5000',
      autocomplete: 'off',
      'aria-label': 'Edit message',
    });
    input.value = content.textContent ?? '';
    const save = el('button', { type: 'submit', 'data-testid': 'edit-save' }, 'Save');
    const cancel = el('button', { type: 'button', 'data-testid': 'edit-cancel' }, 'Cancel');
    form.append(input, save, cancel);
    const finish = () => {
      form.remove();
      show(content, true);
    };
    cancel.addEventListener('click', finish);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') finish();
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (text === '' || text === content.textContent) {
        finish();
        return;
      }
      save.disabled = true;
      this.api
        .edit(id, text)
        .then((m) => {
          finish();
          if (this.rendered.has(m.id)) this.upsert(m);
        })
        .catch((err: unknown) => {
          save.disabled = false;
          this.onApiError(err);
        });
    });
    show(content, false);
    content.after(form);
    input.focus();
    input.select();
  }

  private async deleteMessage(li: HTMLLIElement): Promise<void> {
    const id = li.dataset.messageId;
    if (id === undefined) return;
    li.classList.add('deleting');
    try {
      await this.api.delete(id);
      this.removeMessage(id);
    } catch (err) {
      li.classList.remove('deleting');
      // Already gone (deleted elsewhere, or expired from a write-behind cache): drop it here too.
      if (err instanceof ChatApiError && err.code === 'MESSAGE_NOT_FOUND') this.removeMessage(id);
      else this.onApiError(err);
    }
  }

  // ---- realtime ----

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message:ack':
        this.onAck(frame.clientMsgId, frame.message, frame.persisted);
        return;
      case 'error':
        this.onSendError(frame.clientMsgId, frame.code, frame.message);
        return;
      case 'message:new':
      case 'message:updated':
      case 'message:deleted':
        this.onConversationFrame(frame);
        return;
      default:
        return; // pong, or a type added later
    }
  }

  private onConversationFrame(frame: ConversationFrame): void {
    const partner = this.partnerOf(frame.message);
    if (partner === this.current) {
      if (this.buffered !== null) this.buffered.push(frame);
      else this.applyConversationFrame(frame);
      return;
    }
    if (frame.type === 'message:deleted') {
      this.deleted.add(frame.message.id);
      return;
    }
    if (frame.type === 'message:new' && frame.message.senderId !== this.me.id) {
      this.unread.set(partner, (this.unread.get(partner) ?? 0) + 1);
      // A message from someone who signed up after the list was loaded.
      if (!this.contacts.has(partner)) void this.loadContacts();
      else this.renderContacts();
    }
  }

  private applyConversationFrame(frame: ConversationFrame): void {
    if (frame.type === 'message:deleted') {
      this.removeMessage(frame.message.id);
      return;
    }
    const m = frame.message;
    if (this.deleted.has(m.id)) return;
    if (frame.type === 'message:updated') {
      // An edit of a message older than what is shown is not worth a reload.
      if (this.rendered.has(m.id)) this.upsert(m);
      return;
    }
    if (!this.rendered.has(m.id) && m.senderId === this.me.id && this.claimPending(m)) return;
    const nearEnd = this.isNearEnd();
    this.upsert(m);
    this.scrollToEnd(nearEnd);
  }

  /**
   * The event for one of our own sends can come before its ack; it then takes the place of
   * the matching "sending…" entry rather than showing the message twice.
   */
  private claimPending(m: Message): boolean {
    for (const [clientMsgId, { li, frame }] of this.pending) {
      if (frame.receiverId !== m.receiverId || frame.content !== m.content) continue;
      this.pending.delete(clientMsgId);
      li.remove();
      this.fill(li, m);
      this.rendered.set(m.id, li);
      this.insertInOrder(li);
      return true;
    }
    return false;
  }

  private onStatus(status: 'connecting' | 'open' | 'closed'): void {
    const badge = byTestId('ws-status');
    badge.dataset.status = status;
    badge.textContent =
      status === 'open' ? 'live' : status === 'connecting' ? 'connecting…' : 'offline';
    if (status === 'closed') {
      // Acks cannot come over a dead socket; say so rather than spin forever.
      for (const { li } of this.pending.values()) this.setState(li, 'not confirmed');
      this.pending.clear();
    }
    if (status !== 'open') return;
    // After a reconnection, catch up on what happened while we were away.
    if (this.everOpened) {
      void this.loadContacts();
      if (this.current !== null) void this.openConversation(this.current);
    }
    this.everOpened = true;
  }

  // ---- helpers ----

  private onApiError(err: unknown): void {
    if (err instanceof ChatApiError && err.status === 401) {
      this.onLoggedOut('Your session has expired; log in again.');
      return;
    }
    this.error.textContent = err instanceof Error ? err.message : 'Something went wrong';
  }

  private setComposeEnabled(enabled: boolean): void {
    this.input.disabled = !enabled;
    byTestId<HTMLButtonElement>('compose-send').disabled = !enabled;
  }

  private isNearEnd(): boolean {
    const box = this.list;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  private scrollToEnd(when: boolean): void {
    if (when) this.list.scrollTop = this.list.scrollHeight;
  }
}

/** The ws frame of a send, as the page makes it. */
type SendFrame = MessageSendFrame & { content: string; clientMsgId: string };

// ---- page wiring ----

mountSignedInPage('chat', (session, logOut) => new ChatPage(session, logOut));
