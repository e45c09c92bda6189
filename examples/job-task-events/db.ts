import type { PGlite, Transaction } from '@electric-sql/pglite'
import type { Pool, PoolClient } from 'pg'

/** Runs one SQL statement with `$1`-style parameters and resolves with its rows. */
export type Query = <Row>(sql: string, params?: readonly unknown[]) => Promise<Row[]>

/** The database the routes use: embedded PGlite, or a PostgreSQL server through `pg`. */
export interface Db {
  readonly query: Query
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (query: Query) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** The job the database is seeded with, so a fresh server can be driven with curl alone. */
export const DEMO_JOB_ID = '00000000-0000-4000-8000-000000000001'

/** The demo job's tasks, with stable ids too. */
export const DEMO_TASKS = [
  { id: '00000000-0000-4000-8000-000000000011', title: 'Write the landing page copy' },
  { id: '00000000-0000-4000-8000-000000000012', title: 'Design the hero section' },
  { id: '00000000-0000-4000-8000-000000000013', title: 'Build the signup form' },
  { id: '00000000-0000-4000-8000-000000000014', title: 'Deploy to production' },
] as const

/** Any number: the key of the advisory lock migrations take turns on. */
const MIGRATION_LOCK = 827301

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title text NOT NULL,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  title text NOT NULL,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'in_progress', 'completed', 'failed')),
  note text,
  position integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tasks_job_id ON tasks (job_id, position);
CREATE TABLE IF NOT EXISTS job_activity (
  id serial PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  task_id uuid REFERENCES tasks (id) ON DELETE CASCADE,
  status text NOT NULL,
  note text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS job_activity_job_id ON job_activity (job_id, id);
`

/**
 * Opens the database, creates the tables if they are missing and puts the demo job back
 * to pending (on a server that keeps data, so every start can be driven the same way).
 *
 * @param databaseUrl - a PostgreSQL URL; absent, an in-memory PGlite database
 * @returns the database
 */
export async function openDb(databaseUrl?: string): Promise<Db> {
  const db = databaseUrl ? await openPostgres(databaseUrl) : await openPglite()
  try {
    await migrate(db)
  } catch (error) {
    await db.close()
    throw error
  }
  return db
}

async function openPglite(): Promise<Db> {
  // Loaded on demand: a server given a databaseUrl never loads the WebAssembly build.
  const { PGlite } = await import('@electric-sql/pglite')
  const pglite: PGlite = await PGlite.create()
  return {
    query: pgliteQuery(pglite),
    transaction: (work) => pglite.transaction((tx) => work(pgliteQuery(tx))),
    close: () => pglite.close(),
  }
}

async function openPostgres(databaseUrl: string): Promise<Db> {
  const { default: pg } = await import('pg')
  const pool: Pool = new pg.Pool({ connectionString: databaseUrl, max: 10 })
  // An idle client that loses its server emits here; without a listener the process exits.
  pool.on('error', (error) => console.error('job-task-events: idle database client failed', error))
  return {
    query: pgQuery(pool),
    async transaction(work) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await work(pgQuery(client))
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw error
      } finally {
        client.release()
      }
    },
    close: () => pool.end(),
  }
}

/** PGlite's `query`, and a transaction's, as a {@link Query}. */
function pgliteQuery(target: Pick<Transaction, 'query'>): Query {
  return async <Row>(sql: string, params: readonly unknown[] = []) =>
    (await target.query<Row>(sql, [...params])).rows
}

/** A pg pool's or client's `query` as a {@link Query}. */
function pgQuery(target: Pick<PoolClient, 'query'>): Query {
  return async <Row>(sql: string, params: readonly unknown[] = []) =>
    (await target.query(sql, [...params])).rows as Row[]
}

async function migrate(db: Db): Promise<void> {
  await db.transaction(async (query) => {
    // Processes starting together on one server (a cluster) take turns: CREATE TABLE IF NOT
    // EXISTS is not safe against a concurrent twin. The lock ends with the transaction.
    await query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    // One statement per call: pg's extended protocol (used with parameters) takes one at a time.
    for (const statement of SCHEMA.split(';').map((s) => s.trim())) {
      if (statement) await query(statement)
    }
    await query(
      `INSERT INTO jobs (id, title, status) VALUES ($1, $2, 'pending')
       ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, status = 'pending', updated_at = now()`,
      [DEMO_JOB_ID, 'Launch the landing page'],
    )
    for (const [position, task] of DEMO_TASKS.entries()) {
      await query(
        `INSERT INTO tasks (id, job_id, title, position) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, status = 'pending', note = NULL,
           position = EXCLUDED.position, updated_at = now()`,
        [task.id, DEMO_JOB_ID, task.title, position],
      )
    }
    await query('DELETE FROM job_activity WHERE job_id = $1', [DEMO_JOB_ID])
  })
}
