/** A user as the API shows it. */
export interface User {
  id: string;
  username: string;
}

/** A chat message as the API and the ws events carry it. */
export interface Message {
  id: string;
  senderId: string;
  receiverId: string;
  content: string | null;
  imageUrl: string | null;
  publicId: string | null;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601, set by an edit. */
  updatedAt?: string;
}

/** What sign-up and log-in return; kept in sessionStorage as the session. */
export interface Session {
  user: User;
  token: string;
}

/** `GET /api/stats`: cumulative counters (summed over every process) and gauges. */
export interface Stats {
  /** ISO 8601 time of the snapshot. */
  at: string;
  sends: number;
  cacheHits: number;
  cacheMisses: number;
  wsConnections: number;
  expirations: { event: number; poll: number };
  lag: { p50Ms: number | null; p99Ms: number | null };
  backlog: number;
  deadLetter: number;
}

/** An error answer of the API (`{ error: { code, message } }`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A conversation as `GET /api/messages/:userId` returns it, with the cache's verdict. */
export interface Conversation {
  messages: Message[];
  /** The `X-Cache` header: served from Redis (`HIT`) or MongoDB (`MISS`). */
  cache: string | null;
}

/**
 * The REST API of the page's own origin. Every call sends the bearer token when there is
 * one; an answer that is not 2xx becomes an {@link ApiError} carrying the API's code.
 */
export class ApiClient {
  constructor(private readonly token: string | null = null) {}

  signup(username: string, password: string): Promise<Session> {
    return this.json<Session>('POST', '/api/auth/signup', { username, password });
  }

  login(username: string, password: string): Promise<Session> {
    return this.json<Session>('POST', '/api/auth/login', { username, password });
  }

  async users(): Promise<User[]> {
    return (await this.json<{ users: User[] }>('GET', '/api/users')).users;
  }

  async conversation(userId: string): Promise<Conversation> {
    const res = await this.request('GET', `/api/messages/${encodeURIComponent(userId)}`);
    const body = (await res.json()) as { messages: Message[] };
    return { messages: body.messages, cache: res.headers.get('X-Cache') };
  }

  async editMessage(id: string, content: string): Promise<Message> {
    const path = `/api/messages/item/${encodeURIComponent(id)}`;
    return (await this.json<{ message: Message }>('PATCH', path, { content })).message;
  }

  async deleteMessage(id: string): Promise<void> {
    await this.request('DELETE', `/api/messages/item/${encodeURIComponent(id)}`);
  }

  stats(): Promise<Stats> {
    return this.json<Stats>('GET', '/api/stats');
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    return (await res.json()) as T;
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.token !== null) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'NETWORK', 'The server cannot be reached');
    }
    if (res.ok) return res;
    const payload = (await res.json().catch(() => null)) as {
      error?: { code?: string; message?: string };
    } | null;
    throw new ApiError(
      res.status,
      payload?.error?.code ?? `HTTP_${res.status}`,
      payload?.error?.message ?? `${res.status} ${res.statusText}`,
    );
  }
}
